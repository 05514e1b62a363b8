"""LPIPS through the real `lpips` package, with an AlexNet backbone the test builds itself.

Published LPIPS needs torchvision's pretrained AlexNet weights, which cannot be downloaded
here; a seeded AlexNet written where torchvision looks for them runs every line of our
LPIPS code and the package's, so a change to either shows as a change of this value. It
is not the published metric (see the README), only a deterministic stand-in for its backbone.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from denoiser.metrics import ALEXNET_WEIGHTS, Lpips
from denoiser.noise import add_awgn
from tests.conftest import synthetic_image

# LPIPS of the pair below with the seeded backbone: measured once, checked on every run.
EXPECTED = 0.0925477


@pytest.fixture
def seeded_backbone(tmp_path, monkeypatch):
    import torchvision

    torch.manual_seed(0)
    weights = tmp_path / "hub" / "checkpoints" / ALEXNET_WEIGHTS
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), weights)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


def test_lpips_with_the_real_package(seeded_backbone):
    metric = Lpips()
    assert metric.available
    clean = synthetic_image(3, size=64).astype(np.float32) / 255
    noisy = np.clip(add_awgn(clean, 25, np.random.default_rng(0)), 0, 1)
    assert metric(clean, clean) == pytest.approx(0.0, abs=1e-6)
    assert metric(clean, noisy) == pytest.approx(EXPECTED, rel=1e-5)
    colour = np.stack([clean, clean[::-1], clean.T], axis=-1)
    assert metric(colour, colour) == pytest.approx(0.0, abs=1e-6)  # RGB goes in as RGB
