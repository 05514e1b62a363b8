"""Classical denoisers behind one interface: (noisy, sigma) -> estimate, float arrays.

The Gaussian filter is the weakest sensible baseline; its width is chosen per noise
level on the validation images (never on the test images) from a fixed grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from denoiser.determinism import stream
from denoiser.metrics import psnr
from denoiser.noise import add_awgn

GAUSSIAN_WIDTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)  # filter std in pixels


@dataclass
class GaussianFilter:
    """Gaussian smoothing whose std (pixels) depends on the noise sigma (8-bit scale)."""

    widths: dict[float, float]  # sigma -> filter std

    name = "gaussian"

    def __call__(self, noisy: np.ndarray, sigma: float) -> np.ndarray:
        return gaussian_filter(noisy.astype(np.float32), self.widths[sigma], mode="reflect")

    @classmethod
    def tuned(cls, val_images: list[np.ndarray], sigmas: list[float], seed: int) -> GaussianFilter:
        """Pick, for each sigma, the width with the best mean PSNR on the validation images."""
        widths = {}
        for sigma in sigmas:
            noisy = [
                add_awgn(image, sigma, stream(seed, "tune-gaussian", i, sigma)) for i, image in enumerate(val_images)
            ]
            scores = [
                np.mean([psnr(clean, gaussian_filter(n, width, mode="reflect")) for clean, n in zip(val_images, noisy)])
                for width in GAUSSIAN_WIDTHS
            ]
            widths[sigma] = GAUSSIAN_WIDTHS[int(np.argmax(scores))]
        return cls(widths)
