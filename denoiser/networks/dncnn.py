"""DnCNN (Zhang, Zuo, Chen, Meng, Zhang: "Beyond a Gaussian Denoiser: Residual Learning
of Deep CNN for Image Denoising", IEEE TIP 2017), the field's reference CNN baseline.

conv+ReLU, (layers-2) x (conv+BatchNorm+ReLU), conv; it predicts the noise residual.
With `noise_map` the sigma map is a second input channel (as in FFDNet); without it the
network is blind (DnCNN-B).
"""

from __future__ import annotations

import torch
from torch import nn

from denoiser.config import ModelConfig
from denoiser.networks.blocks import sigma_map


class DnCNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        width = config.base_channels
        layers: list[nn.Module] = [nn.Conv2d(config.channels + config.noise_map, width, 3, padding=1), nn.ReLU()]
        for _ in range(config.layers - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        layers.append(nn.Conv2d(width, config.channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """noisy: (B, C, H, W); sigma: (B,) on the 8-bit scale. Returns the clean estimate."""
        x = torch.cat([noisy, sigma_map(sigma, noisy)], dim=1) if self.config.noise_map else noisy
        prediction = self.body(x)
        return noisy - prediction if self.config.target == "residual" else prediction
