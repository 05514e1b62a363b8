"""Building blocks shared by the networks: residual blocks, self-attention, sigma embedding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups (Wu & He 2018), as many as divide the channels."""
    return nn.GroupNorm(math.gcd(channels, 32), channels)


class SigmaEmbedding(nn.Module):
    """Sinusoidal features of log(sigma) (Vaswani et al. 2017) through a small MLP.

    Log scale: sigma 5 and 10 should be as far apart as 25 and 50.
    """

    def __init__(self, dim: int = 64):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.SiLU(), nn.Linear(dim * 2, dim * 2))

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        """sigma: (B,) on the 8-bit scale -> (B, 2 * dim)."""
        half = self.dim // 2
        frequencies = torch.exp(torch.arange(half, dtype=torch.float32, device=sigma.device) * (-math.log(1e3) / half))
        angles = torch.log(sigma.clamp(min=1e-3)).float()[:, None] * frequencies[None] * 10.0
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))

    @property
    def out_dim(self) -> int:
        return self.dim * 2


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x) [+ sigma embedding])), with optional GroupNorm before each conv.

    The branch's last convolution starts at zero, so every block starts as the identity
    (Goyal et al. 2017; Zhang et al., Fixup, 2019): without normalisation, deep stacks of
    blocks otherwise blow up at the learning rates that train quickly.
    """

    def __init__(self, channels: int, norm: bool = False, embedding_dim: int = 0):
        super().__init__()
        self.norm1 = group_norm(channels) if norm else nn.Identity()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = group_norm(channels) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.embed = nn.Linear(embedding_dim, channels) if embedding_dim else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(self.norm1(x))
        if self.embed is not None:
            h = h + self.embed(embedding)[:, :, None, None]
        return x + self.conv2(self.norm2(F.relu(h)))


class SelfAttention(nn.Module):
    """Multi-head self-attention over all positions of a feature map, with a residual path."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} attention heads")
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, channels * 3, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(batch, 3, self.heads, channels // self.heads, height * width).unbind(1)
        # (B, heads, tokens, head_dim) for scaled_dot_product_attention
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(batch, channels, height, width))


class Stage(nn.Module):
    """The residual blocks of one scale, then self-attention when asked for."""

    def __init__(self, channels: int, blocks: int, norm: bool, embedding_dim: int, attention_heads: int):
        super().__init__()
        self.blocks = nn.ModuleList(ResidualBlock(channels, norm, embedding_dim) for _ in range(blocks))
        self.attention = SelfAttention(channels, attention_heads) if attention_heads else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, embedding)
        return self.attention(x) if self.attention is not None else x


def sigma_map(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) sigma on the 8-bit scale -> (B, 1, H, W) constant map of sigma/255."""
    return (sigma / 255.0).to(like.dtype).view(-1, 1, 1, 1).expand(-1, 1, *like.shape[-2:])
