"""Explicit noise-level estimation from a single noisy image (sigma on the 8-bit scale).

- `mad`: Donoho & Johnstone's wavelet estimator, the median absolute deviation of the
  finest diagonal wavelet coefficients / 0.6745 (scikit-image `estimate_sigma`).
- `pca`: Chen, Zhu & Heng, "An Efficient Statistical Method for Image Noise Level
  Estimation", ICCV 2015. The eigenvalues of the covariance of all overlapping patches
  that belong to noise alone are those whose mean equals their median; sigma is the
  square root of that mean. Texture inflates MAD; it barely touches the PCA estimate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from skimage.restoration import estimate_sigma

PCA_PATCH = 8  # patch side used by Chen et al.
PCA_MAX_WINDOWS = 250_000  # beyond this, windows are taken on a regular stride (memory stays ~130 MB)


def estimate_mad(noisy: np.ndarray) -> float:
    return float(estimate_sigma(noisy.astype(np.float64), channel_axis=None)) * 255.0


def estimate_pca(noisy: np.ndarray, patch: int = PCA_PATCH) -> float:
    if min(noisy.shape) < 2 * patch:
        return estimate_mad(noisy)  # too small for a patch covariance; MAD still works
    # (N, patch*patch) matrix of overlapping patches; on a stride for large images
    view = sliding_window_view(noisy.astype(np.float32), (patch, patch))
    stride = max(1, int(np.ceil(np.sqrt(view.shape[0] * view.shape[1] / PCA_MAX_WINDOWS))))
    windows = view[::stride, ::stride].reshape(-1, patch * patch).astype(np.float64)
    centered = windows - windows.mean(axis=0)
    covariance = centered.T @ centered / len(windows)
    eigenvalues = np.clip(np.linalg.eigvalsh(covariance), 0.0, None)  # ascending
    # The largest prefix of the smallest eigenvalues whose mean is also its median.
    for count in range(len(eigenvalues), 0, -1):
        tail = eigenvalues[:count]
        mean = tail.mean()
        if np.sum(tail > mean) == np.sum(tail < mean):
            return float(np.sqrt(mean)) * 255.0
    return float(np.sqrt(eigenvalues[0])) * 255.0


ESTIMATORS: dict[str, Callable[[np.ndarray], float]] = {"mad": estimate_mad, "pca": estimate_pca}
