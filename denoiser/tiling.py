"""Denoising an image of any size in bounded memory: overlapping tiles, cropped to their cores.

The network runs on one (1, C, h, w) tile at a time, channels-last as in
denoiser.inference: each tile is the core it contributes plus a margin of context on
every side that is not the image's own border, and only the core is kept. Memory is then
set by the tile, not the photo (the photo itself stays as float32 (H, W[, C]) arrays).

For convolution-only networks (no GroupNorm, no attention) the margin covers the
receptive field (`receptive_margin`, from the config) and tile origins fall on multiples
of the U-Net's downsampling factor, so every kept pixel sees exactly the values it sees
in whole-image inference: the results agree to float rounding (tests: within 1e-5).

GroupNorm and self-attention pool over the whole feature map, so a tile's statistics
differ from the image's and no margin makes tiling exact; those models use the same
margin (covering their convolutions) and differ. Measured on a random-weight depth-3
U-Net (8 base channels, GroupNorm; its residual scaled to a mean of 0.05, about what a
sigma-25 denoiser removes) on a 97x131 colour image with 32-pixel tiles: max abs
difference 0.098 on the [0, 1] scale, mean 0.0017; with attention at the deepest scale
too, max 0.089, mean 0.0034. Larger tiles shrink it (fewer seams, statistics closer to
the image's); use --tile 0 where such a model must match whole-image inference.

The K-step annealed mode re-applies the network to its own output: each step covers the
whole image before the next begins, so a tile's margin always holds the previous step's
values, as in whole-image inference.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from denoiser.config import ModelConfig
from denoiser.defaults import DEFAULT_TILE
from denoiser.inference import annealed_sigmas


def size_multiple(config: ModelConfig) -> int:
    """What tile origins must be multiples of for the network to see the same pixel grid."""
    return 2 ** (config.depth - 1) if config.name == "unet" else 1


def is_local(config: ModelConfig) -> bool:
    """True when every output pixel depends only on a bounded neighbourhood (exact tiling)."""
    if config.name == "dncnn":  # BatchNorm in eval mode is a per-channel affine map
        return True
    return config.norm == "none" and config.attention_levels == 0


# Self-attention compares every position of a feature map with every other: its time grows with
# the square of the positions. A model folder is untrusted input, so it may not ask for more
# than this at inference (its shallowest attention scale of the largest input a pass sees).
MAX_ATTENTION_TOKENS = 4096


def attention_tokens(config: ModelConfig, height: int, width: int) -> int:
    """Positions one self-attention layer sees for a (height, width) input (0: no attention)."""
    if config.name != "unet" or config.attention_levels == 0:
        return 0
    factor = 2 ** (config.depth - config.attention_levels)  # the shallowest scale that has attention
    return -(-height // factor) * -(-width // factor)


def pass_size(config: ModelConfig, height: int, width: int, tile: int) -> tuple[int, int]:
    """The largest input one forward pass sees: a tile with its margins, or the whole photo."""
    if 0 < tile < max(height, width):
        extent = tile + 2 * receptive_margin(config)
        return min(height, extent), min(width, extent)
    return height, width


def receptive_margin(config: ModelConfig) -> int:
    """Pixels of context on each side that cover the convolutions' receptive field.

    DnCNN: one pixel per 3x3 layer. U-Net: a 3x3 convolution at scale l reaches 2**l
    full-resolution pixels, a 2x2 stride-2 (transposed) convolution at scale l reaches 2**l
    too; the longest path runs head, every encoder stage and down, the bottleneck, every
    up and decoder stage, tail; rounded up to the grid (for the reference config, depth 5:
    124 -> 128 pixels; with random weights 96 still gave whole-image results, 64 did not).
    """
    if config.name == "dncnn":
        return config.layers
    convs = 2 * config.blocks_per_scale  # two 3x3 convolutions per residual block
    depth = config.depth
    path = 1 + 1  # head and tail
    path += 2 * sum((convs + 1) * 2**level for level in range(depth - 1))  # encoder+down, up+decoder
    path += convs * 2 ** (depth - 1)  # bottleneck
    grid = size_multiple(config)
    return -(-path // grid) * grid


def tile_spans(length: int, core: int, margin: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, stop) of each tile and (start, stop) of the core it contributes, along one axis."""
    for begin in range(0, length, core):
        end = min(begin + core, length)
        yield max(begin - margin, 0), min(end + margin, length), begin, end


@torch.no_grad()
def denoise_tiled(
    model: nn.Module,
    noisy: np.ndarray,
    sigma: float,
    steps: int = 1,
    tile: int = DEFAULT_TILE,
    margin: int | None = None,
) -> np.ndarray:
    """Denoise (H, W) or (H, W, C) float32 at a known sigma; returns the same shape, float32, unclipped.

    `tile` is the core side in pixels (rounded up to the U-Net's size multiple); 0 runs the
    whole image in one pass. `margin` defaults to `receptive_margin(model.config)`.
    """
    config: ModelConfig = model.config
    grid = size_multiple(config)
    margin = receptive_margin(config) if margin is None else -(-margin // grid) * grid
    height, width = noisy.shape[:2]
    core = max(height, width) if tile <= 0 else -(-tile // grid) * grid
    x = np.ascontiguousarray(noisy, dtype=np.float32)
    for level in annealed_sigmas(sigma, steps):
        result = np.empty_like(x)
        for top, bottom, core_top, core_bottom in tile_spans(height, core, margin):
            for left, right, core_left, core_right in tile_spans(width, core, margin):
                clean = _run(model, x[top:bottom, left:right], level)
                rows = slice(core_top - top, core_bottom - top)
                columns = slice(core_left - left, core_right - left)
                result[core_top:core_bottom, core_left:core_right] = clean[rows, columns]
        x = result
    return x


def _run(model: nn.Module, tile: np.ndarray, sigma: float) -> np.ndarray:
    """One (h, w[, C]) tile through the network; the (1, C, h, w) view of an HWC array is channels-last."""
    device = next(model.parameters()).device
    pixels = torch.from_numpy(np.ascontiguousarray(tile))
    batch = (pixels[None, None] if pixels.ndim == 2 else pixels.permute(2, 0, 1)[None]).to(device)
    batch = batch.contiguous(memory_format=torch.channels_last)
    out = model(batch, torch.tensor([sigma], dtype=torch.float32, device=device))
    out = out[0, 0] if tile.ndim == 2 else out[0].permute(1, 2, 0)
    return out.cpu().numpy()
