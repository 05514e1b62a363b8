"""Classical denoisers behind one interface: (noisy, sigma) -> estimate, float arrays.

All are given the true sigma (non-blind), as the network is, so the comparison is fair.
Gray images are (H, W), colour images (H, W, 3) RGB; each method returns the shape it is
given, and gray images take exactly the calls they always took (recorded runs re-execute
bit for bit). Colour follows each method's own colour variant:
- gaussian: Gaussian smoothing; its width per sigma is chosen on the validation images.
  Colour: spatial only, each channel on its own (no blur across channels).
- wavelet: BayesShrink soft thresholding (Chang, Yu & Vetterli 2000), scikit-image.
  Colour: in YCbCr, where the channels are less correlated (scikit-image's
  `convert2ycbcr`, which carries sigma into that space).
- tv: total-variation denoising (Chambolle 2004), scikit-image; weight chosen on validation.
  Colour: each channel on its own (scikit-image's `channel_axis=-1`).
- nlm: non-local means (Buades, Coll & Morel 2005), scikit-image, h = 0.8 sigma as its
  documentation recommends. Colour: patch distances over all three channels.
- bm3d: BM3D (Dabov et al. 2007) from the optional `bm3d` package (pip install bm3d).
  Colour: CBM3D (`bm3d.bm3d_rgb`: grouping on luminance, filtering in an opponent space).
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


def channel_axis(image: np.ndarray) -> int | None:
    """-1 for a colour (H, W, 3) image, None for a gray (H, W) one; anything else is refused."""
    if image.ndim == 2:
        return None
    if image.ndim == 3 and image.shape[-1] == 3:
        return -1
    raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got shape {image.shape}")


# Gray calls keep their exact former arguments: a new keyword could change recorded results.
def _gaussian(noisy, sigma, width):
    if channel_axis(noisy) is None:
        return gaussian_filter(noisy.astype(np.float32), width, mode="reflect")
    return gaussian_filter(noisy.astype(np.float32), (width, width, 0), mode="reflect")  # std 0: no mixing


def _wavelet(noisy, sigma, _):
    if channel_axis(noisy) is None:
        return denoise_wavelet(noisy.astype(np.float64), sigma=sigma / 255.0, method="BayesShrink", mode="soft")
    return denoise_wavelet(
        noisy.astype(np.float64),
        sigma=sigma / 255.0,
        method="BayesShrink",
        mode="soft",
        channel_axis=-1,
        convert2ycbcr=True,
    )


def _tv(noisy, sigma, weight):
    if channel_axis(noisy) is None:
        return denoise_tv_chambolle(noisy.astype(np.float64), weight=weight * sigma / 255.0)
    return denoise_tv_chambolle(noisy.astype(np.float64), weight=weight * sigma / 255.0, channel_axis=-1)


def _nlm(noisy, sigma, _):
    s = sigma / 255.0
    return denoise_nl_means(
        noisy.astype(np.float64),
        h=0.8 * s,
        sigma=s,
        patch_size=5,
        patch_distance=6,
        fast_mode=True,
        channel_axis=channel_axis(noisy),
    )


def _bm3d(noisy, sigma, _):
    import bm3d  # optional extra

    if channel_axis(noisy) is None:
        return bm3d.bm3d(noisy.astype(np.float64), sigma_psd=sigma / 255.0)
    return bm3d.bm3d_rgb(noisy.astype(np.float64), sigma_psd=sigma / 255.0)


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
