"""Denoising networks, selected by name from a ModelConfig.

Every network maps (noisy (B, C, H, W), sigma (B,)) to a clean estimate of the same
shape (C = `model.channels`: 1 gray, 3 RGB), so training, evaluation and inference never depend on the architecture.
"""

from __future__ import annotations

from torch import nn

from denoiser.config import ModelConfig
from denoiser.networks.dncnn import DnCNN
from denoiser.networks.unet import UNet

ARCHITECTURES: dict[str, type[nn.Module]] = {"unet": UNet, "dncnn": DnCNN}


def build_network(config: ModelConfig) -> nn.Module:
    return ARCHITECTURES[config.name](config)
