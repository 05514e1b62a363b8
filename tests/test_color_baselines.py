"""Classical baselines on colour (H, W, 3) images; gray images keep their former calls exactly."""

import sys
import types

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

from denoiser import baselines
from denoiser.metrics import psnr
from denoiser.noise import add_awgn
from tests.conftest import synthetic_image

SIGMA = 25.0


def colour_image(seed: int, size: int) -> np.ndarray:
    """Three different synthetic pictures as R, G and B: channels that must not be mixed."""
    return np.stack([synthetic_image(seed + k, size) for k in range(3)], axis=-1).astype(np.float32) / 255


@pytest.mark.parametrize("name", ["gaussian", "wavelet", "tv", "nlm"])
def test_colour_baselines_keep_the_shape_and_improve_psnr(name):
    clean = colour_image(5, 96)
    noisy = add_awgn(clean, SIGMA, np.random.default_rng(0))
    baseline = baselines.build_baseline(name, [colour_image(20, 64)], [SIGMA], seed=0)  # tuned on colour
    estimate = baseline(noisy, SIGMA)
    assert estimate.shape == (96, 96, 3) and estimate.dtype == np.float32
    assert psnr(clean, estimate) > psnr(clean, noisy) + 1.0


def test_gaussian_blurs_space_not_channels():
    noisy = add_awgn(colour_image(5, 64), SIGMA, np.random.default_rng(1))
    estimate = baselines._gaussian(noisy, SIGMA, 1.5)
    for c in range(3):  # each channel exactly as if it were filtered alone
        np.testing.assert_array_equal(estimate[..., c], gaussian_filter(noisy[..., c], 1.5, mode="reflect"))


def test_colour_methods_use_their_colour_variants():
    noisy = add_awgn(colour_image(5, 48), SIGMA, np.random.default_rng(2)).astype(np.float64)
    s = SIGMA / 255
    expected = {
        "wavelet": denoise_wavelet(
            noisy, sigma=s, method="BayesShrink", mode="soft", channel_axis=-1, convert2ycbcr=True
        ),
        "tv": denoise_tv_chambolle(noisy, weight=1.0 * s, channel_axis=-1),
        "nlm": denoise_nl_means(
            noisy, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1
        ),
    }
    for name, reference in expected.items():
        np.testing.assert_array_equal(baselines._RUNNERS[name](noisy, SIGMA, 1.0), reference)


def test_gray_baselines_are_the_former_calls_bit_for_bit():
    noisy = add_awgn(synthetic_image(5, 64).astype(np.float32) / 255, SIGMA, np.random.default_rng(3))
    s = SIGMA / 255
    former = {  # the calls every recorded gray run made
        "gaussian": gaussian_filter(noisy, 1.25, mode="reflect"),
        "wavelet": denoise_wavelet(noisy.astype(np.float64), sigma=s, method="BayesShrink", mode="soft"),
        "tv": denoise_tv_chambolle(noisy.astype(np.float64), weight=1.25 * s),
        "nlm": denoise_nl_means(noisy.astype(np.float64), h=0.8 * s, sigma=s, patch_size=5, patch_distance=6),
    }
    for name, reference in former.items():
        estimate = baselines._RUNNERS[name](noisy, SIGMA, 1.25)
        assert estimate.shape == (64, 64)
        np.testing.assert_array_equal(estimate, reference)


def test_bm3d_is_cbm3d_on_colour_and_bm3d_on_gray(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        bm3d=lambda z, sigma_psd: calls.append(("bm3d", z.shape, sigma_psd)) or z,
        bm3d_rgb=lambda z, sigma_psd: calls.append(("bm3d_rgb", z.shape, sigma_psd)) or z,
    )
    monkeypatch.setitem(sys.modules, "bm3d", fake)  # the optional package need not be installed here
    monkeypatch.setattr(baselines, "bm3d_available", lambda: True)
    baseline = baselines.build_baseline("bm3d", [], [SIGMA], seed=0)
    assert baseline(np.zeros((8, 8, 3), np.float32), SIGMA).shape == (8, 8, 3)
    assert baseline(np.zeros((8, 8), np.float32), SIGMA).shape == (8, 8)
    assert calls == [("bm3d_rgb", (8, 8, 3), SIGMA / 255), ("bm3d", (8, 8), SIGMA / 255)]


@pytest.mark.parametrize("shape", [(8, 8, 4), (8, 8, 1), (8,)])
def test_other_layouts_are_refused(shape):
    with pytest.raises(ValueError, match="expected a gray"):
        baselines.build_baseline("wavelet", [], [SIGMA], seed=0)(np.zeros(shape, np.float32), SIGMA)
