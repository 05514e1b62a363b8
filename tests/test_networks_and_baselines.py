"""Networks keep the input size and are deterministic; classical baselines beat the noisy input."""

import numpy as np
import pytest
import torch

from denoiser import baselines, cost
from denoiser.config import config_from_dict
from denoiser.determinism import configure
from denoiser.metrics import psnr
from denoiser.networks import build_network
from denoiser.noise import add_awgn
from tests.conftest import synthetic_image

NETWORKS = {
    "unet-3": {},
    "unet-5-group-attention-embedding": {
        "depth": 5,
        "base_channels": 8,
        "norm": "group",
        "attention_levels": 2,
        "noise_embedding": True,
    },
    "unet-7-capped": {"depth": 7, "base_channels": 4, "max_channels": 16},
    "unet-no-skips-clean-target": {"skip_connections": False, "target": "clean", "noise_map": False},
    "dncnn": {"name": "dncnn", "base_channels": 8, "layers": 5},
}


@pytest.mark.parametrize("name", NETWORKS)
def test_network_output_shape_and_determinism(name):
    config = config_from_dict({"model": NETWORKS[name]})
    outputs = []
    for _ in range(2):
        configure(seed=3, threads=1)
        model = build_network(config.model).eval()
        with torch.no_grad():
            outputs.append(
                model(torch.rand(2, 1, 37, 53, generator=torch.Generator().manual_seed(0)), torch.tensor([10.0, 40.0]))
            )
    assert outputs[0].shape == (2, 1, 37, 53)
    assert torch.equal(outputs[0], outputs[1])


def test_noise_level_conditioning_changes_the_output():
    configure(seed=0, threads=1)
    model = build_network(config_from_dict({"model": {"noise_embedding": True}}).model).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert not torch.equal(model(x, torch.tensor([5.0])), model(x, torch.tensor([50.0])))


def test_dncnn_has_the_published_size():
    model = build_network(
        config_from_dict({"model": {"name": "dncnn", "base_channels": 64, "layers": 17, "noise_map": False}}).model
    )
    assert round(cost.parameters(model) / 1e6, 2) == 0.56  # DnCNN-S, as published


@pytest.mark.parametrize("name", ["gaussian", "wavelet", "tv", "nlm", "bm3d"])  # bm3d: the test extra
def test_classical_baselines_improve_on_the_noisy_input_at_sigma_25(name):
    clean = synthetic_image(5, size=96).astype(np.float32) / 255
    val = [synthetic_image(6, size=64).astype(np.float32) / 255]
    noisy = add_awgn(clean, 25, np.random.default_rng(0))
    baseline = baselines.build_baseline(name, val, [25.0], seed=0)
    assert psnr(clean, baseline(noisy, 25.0)) > psnr(clean, noisy) + 1.0


def test_missing_bm3d_is_reported_not_faked(monkeypatch):
    monkeypatch.setattr(baselines, "bm3d_available", lambda: False)
    with pytest.raises(baselines.BaselineUnavailable, match="pip install bm3d"):
        baselines.build_baseline("bm3d", [], [25.0], seed=0)


def test_compute_cost_profile():
    configure(seed=0, threads=1)
    model = build_network(config_from_dict({}).model)
    profile = cost.profile(model, sizes=((64, 64), (128, 128)), repeats=2)
    assert profile["parameters"] == cost.parameters(model)
    assert cost.flops(model, 128, 128) == pytest.approx(4 * cost.flops(model, 64, 64), rel=0.01)
    assert profile["gflops_per_megapixel"] > 0 and profile["inference_ms"]["128x128"] > 0
    assert set(profile["peak_memory_mb"]) == {"64x64", "128x128"}
