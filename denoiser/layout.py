"""Between numpy images (channel-last) and torch batches (channel-first).

Gray images are (H, W), colour images (H, W, C); networks take (N, C, H, W). Gray gives
the very tensors it always gave ((N, 1, H, W) through a new axis), so older runs
re-execute bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def image_channels(image: np.ndarray) -> int:
    """1 for a gray (H, W) image, C for a colour (H, W, C) one."""
    return 1 if image.ndim == 2 else int(image.shape[2])


def model_channels(model: nn.Module) -> int:
    """Image channels a network takes (1 gray, 3 RGB); 1 for a network built without a ModelConfig."""
    return getattr(getattr(model, "config", None), "channels", 1)


def to_batch(images: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """Images of one shape, (H, W) or (H, W, C), as one (N, C, H, W) tensor."""
    stacked = np.stack(images)
    if stacked.ndim == 3:
        return torch.from_numpy(stacked[:, None])
    return torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)))


def to_image(tensor: torch.Tensor, channels: int) -> np.ndarray:
    """The first image of an (N, C, H, W) tensor as (H, W) for one channel, (H, W, C) otherwise."""
    first = tensor[0].cpu()
    return first[0].numpy() if channels == 1 else np.ascontiguousarray(first.permute(1, 2, 0).numpy())
