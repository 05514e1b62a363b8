"""Using a trained network on whole images: known sigma, blind, or annealed over K steps.

Blind mode estimates sigma from the noisy image itself (denoiser.estimation) and
conditions the network on the estimate. The K-step annealed mode re-applies the network
to its own output along a decreasing schedule sigma, sigma/2, sigma/4, ...: each pass
removes what the previous one left, trading latency for (perceptual) sharpness; K=1 is
the ordinary one-step estimate.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from denoiser.defaults import BLIND_DEFAULT
from denoiser.estimation import ESTIMATORS
from denoiser.layout import image_channels, model_channels, to_batch, to_image


def annealed_sigmas(sigma: float, steps: int) -> list[float]:
    return [sigma * 0.5**k for k in range(steps)]


@torch.no_grad()
def denoise(model: nn.Module, noisy: np.ndarray, sigma: float, steps: int = 1) -> np.ndarray:
    """Denoise one gray (H, W) or colour (H, W, 3) image at a known sigma; float32, same shape, unclipped.

    Runs on the model's device, channels-last (the layout the network was trained and
    timed in: oneDNN's CPU convolutions are much faster in it for these small layers).
    """
    channels = image_channels(noisy)
    expected = model_channels(model)
    if channels != expected:
        raise ValueError(f"the model takes {expected}-channel images, this one has {channels}")
    device = next(model.parameters()).device
    x = to_batch([np.ascontiguousarray(noisy, dtype=np.float32)]).to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    for level in annealed_sigmas(sigma, steps):
        x = model(x, torch.tensor([level], dtype=torch.float32, device=device))
    return to_image(x, channels)


def estimate_sigma(noisy: np.ndarray, estimator: str = BLIND_DEFAULT) -> float:
    """Noise level (8-bit scale) of a gray (H, W) or colour (H, W, 3) image; see denoiser.estimation."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown noise estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    return ESTIMATORS[estimator](noisy)
