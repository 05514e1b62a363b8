"""A noise-level-conditioned residual U-Net.

Follows the plain design of DRUNet (Zhang et al., "Plug-and-Play Image Restoration with
Deep Denoiser Prior", TPAMI 2021): a noise-level map as an extra input channel, residual
blocks without batch norm at every scale, strided-convolution downsampling,
transposed-convolution upsampling and additive skip connections. Options from the
diffusion U-Nets (Ho et al. 2020): GroupNorm in the blocks, self-attention at the
deepest scales, and a sinusoidal sigma embedding added inside every block. By default
the network predicts the noise residual (DnCNN, Zhang et al. TIP 2017) and returns
noisy - residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoiser.config import ModelConfig
from denoiser.networks.blocks import SigmaEmbedding, Stage, sigma_map


class UNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        depth = config.depth
        widths = [min(config.base_channels * 2**level, config.max_channels) for level in range(depth)]
        self.embedding = SigmaEmbedding() if config.noise_embedding else None
        embedding_dim = self.embedding.out_dim if self.embedding else 0

        def stage(level: int) -> Stage:
            attention = config.attention_heads if level >= depth - config.attention_levels else 0
            norm = config.norm == "group"
            return Stage(widths[level], config.blocks_per_scale, norm, embedding_dim, attention)

        self.head = nn.Conv2d(config.channels + config.noise_map, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(stage(level) for level in range(depth - 1))
        self.downs = nn.ModuleList(nn.Conv2d(w, w2, 2, stride=2) for w, w2 in zip(widths, widths[1:]))
        self.bottleneck = stage(depth - 1)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(w2, w, 2, stride=2) for w, w2 in zip(widths, widths[1:]))
        self.decoders = nn.ModuleList(stage(level) for level in range(depth - 1))
        self.tail = nn.Conv2d(widths[0], config.channels, 3, padding=1)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """noisy: (B, C, H, W) in [0, 1] plus noise; sigma: (B,) on the 8-bit scale.

        Returns the clean estimate, (B, C, H, W). Any H and W: the input is padded to a
        multiple of 2**(depth-1) and the output cropped back.
        """
        height, width = noisy.shape[-2:]
        multiple = 2 ** (self.config.depth - 1)
        x = noisy
        if height % multiple or width % multiple:  # skipped when not needed: its CUDA backward is nondeterministic
            x = F.pad(noisy, (0, -width % multiple, 0, -height % multiple), mode="replicate")
        if self.config.noise_map:
            x = torch.cat([x, sigma_map(sigma, x)], dim=1)
        embedding = self.embedding(sigma) if self.embedding is not None else None

        features = self.head(x)
        skips = []
        for encode, down in zip(self.encoders, self.downs):
            features = encode(features, embedding)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features, embedding)
        for up, decode, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips)):
            features = up(features)
            if self.config.skip_connections:
                features = features + skip
            features = decode(features, embedding)
        prediction = self.tail(features)[..., :height, :width]

        if self.config.target == "residual":
            return noisy - prediction
        return prediction
