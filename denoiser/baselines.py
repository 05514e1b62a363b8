"""Classical denoisers behind one interface: (noisy, sigma) -> estimate, float arrays.

All are given the true sigma (non-blind), as the network is, so the comparison is fair.
- gaussian: Gaussian smoothing; its width per sigma is chosen on the validation images.
- wavelet: BayesShrink soft thresholding (Chang, Yu & Vetterli 2000), scikit-image.
- tv: total-variation denoising (Chambolle 2004), scikit-image; weight chosen on validation.
- nlm: non-local means (Buades, Coll & Morel 2005), scikit-image, h = 0.8 sigma as its
  documentation recommends.
- bm3d: BM3D (Dabov et al. 2007) from the optional `bm3d` package (pip install bm3d).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

from denoiser.determinism import stream
from denoiser.metrics import psnr
from denoiser.noise import add_awgn

BASELINES = ("gaussian", "wavelet", "tv", "nlm", "bm3d")
GAUSSIAN_WIDTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)  # filter std in pixels
TV_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # TV weight per unit of sigma/255


class BaselineUnavailable(RuntimeError):
    """An optional baseline whose package is not installed."""


def bm3d_available() -> bool:
    return importlib.util.find_spec("bm3d") is not None


@dataclass
class Baseline:
    """A classical denoiser, with any per-sigma setting it was tuned to."""

    name: str
    run: Callable[[np.ndarray, float, float | None], np.ndarray]  # (noisy, sigma, setting) -> estimate
    settings: dict[float, float] = field(default_factory=dict)  # sigma -> tuned setting

    def __call__(self, noisy: np.ndarray, sigma: float) -> np.ndarray:
        # An estimated sigma (blind mode) uses the setting tuned for the nearest level.
        nearest = min(self.settings, key=lambda tuned: abs(tuned - sigma)) if self.settings else None
        return self.run(noisy, sigma, self.settings.get(nearest)).astype(np.float32)


def _gaussian(noisy, sigma, width):
    return gaussian_filter(noisy.astype(np.float32), width, mode="reflect")


def _wavelet(noisy, sigma, _):
    return denoise_wavelet(noisy.astype(np.float64), sigma=sigma / 255.0, method="BayesShrink", mode="soft")


def _tv(noisy, sigma, weight):
    return denoise_tv_chambolle(noisy.astype(np.float64), weight=weight * sigma / 255.0)


def _nlm(noisy, sigma, _):
    s = sigma / 255.0
    return denoise_nl_means(
        noisy.astype(np.float64), h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True
    )


def _bm3d(noisy, sigma, _):
    import bm3d  # optional extra

    return bm3d.bm3d(noisy.astype(np.float64), sigma_psd=sigma / 255.0)


_RUNNERS = {"gaussian": _gaussian, "wavelet": _wavelet, "tv": _tv, "nlm": _nlm, "bm3d": _bm3d}
_GRIDS = {"gaussian": GAUSSIAN_WIDTHS, "tv": TV_WEIGHTS}


def build_baseline(name: str, val_images: list[np.ndarray], sigmas: list[float], seed: int) -> Baseline:
    """A ready baseline; those with a grid are tuned per sigma on the validation images."""
    if name not in _RUNNERS:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    if name == "bm3d" and not bm3d_available():
        raise BaselineUnavailable("bm3d is not installed (pip install bm3d)")
    baseline = Baseline(name, _RUNNERS[name])
    for sigma in sigmas if name in _GRIDS else ():
        noisy = [add_awgn(image, sigma, stream(seed, f"tune-{name}", i, sigma)) for i, image in enumerate(val_images)]
        scores = [
            np.mean([psnr(clean, baseline.run(n, sigma, value)) for clean, n in zip(val_images, noisy)])
            for value in _GRIDS[name]
        ]
        baseline.settings[sigma] = _GRIDS[name][int(np.argmax(scores))]
    return baseline
