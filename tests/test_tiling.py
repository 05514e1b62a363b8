"""Tiled inference: convolution-only networks give whole-image results, tile by tile."""

import numpy as np
import pytest
import torch

from denoiser.config import ModelConfig
from denoiser.inference import denoise
from denoiser.networks import build_network
from denoiser.tiling import denoise_tiled, is_local, receptive_margin, tile_spans


def random_network(config: ModelConfig) -> torch.nn.Module:
    """Random weights of unit gain (the default init makes every residual block the identity)."""
    torch.manual_seed(0)
    network = build_network(config).eval()
    with torch.no_grad():
        for parameter in network.parameters():
            fan_in = parameter[0].numel() if parameter.ndim > 1 else 1
            parameter.normal_(0, fan_in**-0.5)
        last = network.tail if hasattr(network, "tail") else network.body[-1]
        last.weight *= 0.1  # a residual of a denoiser's size, so values stay near [0, 1]
        last.bias *= 0.1
    return network.to(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "config, shape, tile",
    [
        (ModelConfig(name="unet", depth=3, base_channels=4, channels=3), (83, 149, 3), 32),
        (ModelConfig(name="unet", depth=5, base_channels=4, channels=1), (301, 333), 112),
        (ModelConfig(name="dncnn", layers=6, base_channels=4, channels=3), (83, 149, 3), 16),
    ],
)
def test_tiled_equals_whole_image_on_an_odd_size(config, shape, tile):
    network = random_network(config)
    noisy = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
    assert len(list(tile_spans(shape[1], tile, receptive_margin(config)))) > 2  # tiles inside, not only at edges
    whole = denoise_tiled(network, noisy, 25.0, tile=0)
    tiled = denoise_tiled(network, noisy, 25.0, tile=tile)
    assert tiled.shape == noisy.shape and tiled.dtype == np.float32
    assert np.abs(whole - noisy).mean() > 0.01  # the network changes the image: the test can fail
    assert np.abs(tiled - whole).max() <= 1e-5


def test_more_than_one_tile_is_used_and_annealed_steps_match():
    config = ModelConfig(name="unet", depth=3, base_channels=4, channels=1)
    network = random_network(config)
    noisy = np.random.default_rng(2).uniform(0, 1, (70, 90)).astype(np.float32)
    margin = receptive_margin(config)
    assert len(list(tile_spans(90, 16, margin))) == 6  # 6 x 5 tiles, each run with its margin
    tiled = denoise_tiled(network, noisy, 30.0, steps=3, tile=16)
    # The whole-image pass of denoiser.inference is the reference for gray images.
    assert np.abs(tiled - denoise(network, noisy, 30.0, steps=3)).max() <= 1e-5


def test_a_margin_short_of_the_receptive_field_is_not_exact():
    """The computed margin is needed: a smaller one changes pixels near the seams."""
    config = ModelConfig(name="dncnn", layers=8, base_channels=4, channels=1)
    network = random_network(config)
    noisy = np.random.default_rng(3).uniform(0, 1, (40, 40)).astype(np.float32)
    whole = denoise_tiled(network, noisy, 25.0, tile=0)
    assert np.abs(denoise_tiled(network, noisy, 25.0, tile=16, margin=2) - whole).max() > 1e-3


def test_which_models_tile_exactly():
    assert is_local(ModelConfig(name="dncnn")) and is_local(ModelConfig(name="unet"))
    assert not is_local(ModelConfig(name="unet", norm="group"))
    assert not is_local(ModelConfig(name="unet", attention_levels=1))
    assert receptive_margin(ModelConfig(name="unet", depth=5, base_channels=32)) % 16 == 0
