"""A noise-level-conditioned residual U-Net.

Follows the plain design of DRUNet (Zhang et al., "Plug-and-Play Image Restoration with
Deep Denoiser Prior", TPAMI 2021): a noise-level map as an extra input channel, residual
blocks without batch norm at every scale, strided-convolution downsampling,
transposed-convolution upsampling and additive skip connections. By default the
network predicts the noise residual (DnCNN, Zhang et al. TIP 2017) and returns
noisy - residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoiser.config import ModelConfig


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x))): identity path keeps gradients flowing through depth."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _blocks(channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(channels) for _ in range(count)))


class UNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        widths = [config.base_channels * 2**level for level in range(config.depth)]
        in_channels = 2 if config.noise_map else 1
        self.head = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(_blocks(w, config.blocks_per_scale) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(w, w2, 2, stride=2) for w, w2 in zip(widths, widths[1:]))
        self.bottleneck = _blocks(widths[-1], config.blocks_per_scale)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(w2, w, 2, stride=2) for w, w2 in zip(widths, widths[1:]))
        self.decoders = nn.ModuleList(_blocks(w, config.blocks_per_scale) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], 1, 3, padding=1)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """noisy: (B, 1, H, W) in [0, 1] plus noise; sigma: (B,) on the 8-bit scale.

        Returns the clean estimate, (B, 1, H, W). Any H and W: the input is padded to a
        multiple of 2**(depth-1) and the output cropped back.
        """
        height, width = noisy.shape[-2:]
        multiple = 2 ** (self.config.depth - 1)
        pad_h, pad_w = -height % multiple, -width % multiple
        x = F.pad(noisy, (0, pad_w, 0, pad_h), mode="replicate")
        if self.config.noise_map:
            level = (sigma / 255.0).to(x.dtype).view(-1, 1, 1, 1).expand(-1, 1, *x.shape[-2:])
            x = torch.cat([x, level], dim=1)

        features = self.head(x)
        skips = []
        for encode, down in zip(self.encoders, self.downs):
            features = encode(features)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features)
        for up, decode, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips)):
            features = up(features)
            if self.config.skip_connections:
                features = features + skip
            features = decode(features)
        prediction = self.tail(features)[..., :height, :width]

        if self.config.target == "residual":
            return noisy - prediction
        return prediction
