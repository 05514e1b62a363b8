"""Explicit noise-level estimation from a single noisy image (sigma on the 8-bit scale).

- `mad`: Donoho & Johnstone's wavelet estimator, the median absolute deviation of the
  finest diagonal wavelet coefficients / 0.6745 (scikit-image `estimate_sigma`).
- `pca`: Chen, Zhu & Heng, "An Efficient Statistical Method for Image Noise Level
  Estimation", ICCV 2015. The eigenvalues of the covariance of all overlapping patches
  that belong to noise alone are those whose mean equals their median; sigma is the
  square root of that mean. Texture inflates MAD; it barely touches the PCA estimate.
- `liu`: Liu, Tanaka & Okutomi, "Single-Image Noise Level Estimation for Blind
  Denoising", IEEE TIP 22(12), 2013 (weak-texture patch selection). sigma^2 is the
  smallest eigenvalue of the (uncentred) covariance of 7x7 patches; the patches kept are
  those whose gradient energy tr(G^T G) = x^T D^T D x lies below sigma^2 * tau0, where
  tau0 is the 1 - 1e-6 quantile of the gamma law that x^T D^T D x follows for pure noise
  (shape r/2, scale 2 tr(D^T D)/r, r = rank(D^T D)). Selection and estimation alternate
  three times, as in the authors' code (NoiseLevel.m, version 20150203): the trace of the
  gradient covariance, central differences [-1/2, 0, 1/2] inside the patch.

Colour images (H, W, 3): every estimator runs on each channel alone and the three levels
are combined as their root mean square, sqrt(mean(sigma_c^2)). That is the standard
deviation of the noise over all channels together: the AWGN sigma when the channels
share one level (the published colour protocol), and, for real camera noise whose level
differs per channel, the one sigma that a network conditioned on a single level is told
(and the "true sigma" of a real-noise pair, std(noisy - clean) over all channels).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import gamma
from skimage.restoration import estimate_sigma

PCA_PATCH = 8  # patch side used by Chen et al.
PCA_MAX_WINDOWS = 250_000  # beyond this, windows are taken on a regular stride (memory stays ~130 MB)
LIU_PATCH = 7  # patch side, confidence and iterations: the authors' defaults
LIU_CONFIDENCE = 1 - 1e-6
LIU_ITERATIONS = 3
# Samples per dimension a patch covariance needs before its smallest eigenvalue means much:
# with fewer it collapses toward 0 (Marchenko-Pastur), e.g. 3.6 for sigma 20 on 32x32 images.
LIU_SAMPLES_PER_DIMENSION = 30
LIU_MAX_WINDOWS = 250_000  # as for PCA: a regular stride beyond this many patches (peak < 300 MB)

GrayEstimator = Callable[..., float]  # (noisy image, **options) -> sigma, 8-bit scale


def per_channel(estimate_gray: GrayEstimator) -> GrayEstimator:
    """An estimator for (H, W) or (H, W, C) images: the RMS of the per-channel levels."""

    @functools.wraps(estimate_gray)
    def estimate(noisy: np.ndarray, **options: Any) -> float:
        if noisy.ndim == 2:
            return estimate_gray(noisy, **options)  # gray: exactly the single-channel estimator
        if noisy.ndim != 3:
            raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {noisy.shape}")
        levels = np.array([estimate_gray(noisy[..., c], **options) for c in range(noisy.shape[-1])])
        return float(np.sqrt(np.mean(levels**2)))

    return estimate


@per_channel
def estimate_mad(noisy: np.ndarray) -> float:
    return float(estimate_sigma(noisy.astype(np.float64), channel_axis=None)) * 255.0


def _patches(noisy: np.ndarray, patch: int, limit: int) -> np.ndarray:
    """(rows, cols, patch, patch) view of the overlapping patches, on a stride that keeps them under `limit`."""
    view = sliding_window_view(noisy, (patch, patch))
    stride = max(1, int(np.ceil(np.sqrt(view.shape[0] * view.shape[1] / limit))))
    return view[::stride, ::stride]


@per_channel
def estimate_pca(noisy: np.ndarray, patch: int = PCA_PATCH) -> float:
    if min(noisy.shape) < 2 * patch:
        return estimate_mad(noisy)  # too small for a patch covariance; MAD still works
    # (N, patch*patch) matrix of overlapping patches; on a stride for large images
    view = _patches(noisy.astype(np.float32), patch, PCA_MAX_WINDOWS)
    windows = view.reshape(-1, patch * patch).astype(np.float64)
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


@functools.cache
def liu_threshold(patch: int = LIU_PATCH, confidence: float = LIU_CONFIDENCE) -> float:
    """tau0: the `confidence` quantile of x^T D^T D x / sigma^2 for a pure-noise patch x."""
    index = np.arange(patch * patch).reshape(patch, patch)
    # D stacks the horizontal and vertical central differences that fit inside the patch.
    rows = [(index[:, 2:], index[:, :-2]), (index[2:, :], index[:-2, :])]
    operator = np.zeros((sum(plus.size for plus, _ in rows), patch * patch))
    row = 0
    for plus, minus in rows:
        for p, m in zip(plus.ravel(), minus.ravel()):
            operator[row, p], operator[row, m] = 0.5, -0.5
            row += 1
    gram = operator.T @ operator
    rank = np.linalg.matrix_rank(gram)
    return float(gamma.ppf(confidence, a=rank / 2, scale=2 * np.trace(gram) / rank))


def _smallest_eigenvalue(windows: np.ndarray) -> float | None:
    """Smallest eigenvalue of the uncentred patch covariance (None: too few patches for one)."""
    if len(windows) < LIU_SAMPLES_PER_DIMENSION * windows.shape[1]:
        return None
    return float(np.linalg.eigvalsh(windows.T @ windows / (len(windows) - 1))[0])


@per_channel
def estimate_liu(noisy: np.ndarray, patch: int = LIU_PATCH, iterations: int = LIU_ITERATIONS) -> float:
    if min(noisy.shape) < 2 * patch:
        return estimate_mad(noisy)  # too small for a patch covariance; MAD still works
    # (N, patch, patch) overlapping patches, on a stride for large images: memory stays bounded
    # by LIU_MAX_WINDOWS whatever the image size (no full-size gradient images).
    view = _patches(noisy, patch, LIU_MAX_WINDOWS)
    patches = view.reshape(-1, patch, patch).astype(np.float64)
    # Gradient energy x^T D^T D x: the squared central differences that fit inside each patch.
    energy = (((patches[:, :, 2:] - patches[:, :, :-2]) / 2) ** 2).sum(axis=(1, 2)) + (
        ((patches[:, 2:, :] - patches[:, :-2, :]) / 2) ** 2
    ).sum(axis=(1, 2))
    windows = patches.reshape(-1, patch * patch)
    variance = _smallest_eigenvalue(windows)
    if variance is None:
        return estimate_mad(noisy)  # too few patches for a covariance (under about 45x45 pixels)
    tau0 = liu_threshold(patch)
    for _ in range(iterations - 1):
        weak = energy < variance * tau0  # weak-texture patches at the current level
        windows, energy = windows[weak], energy[weak]
        refined = _smallest_eigenvalue(windows)
        if refined is None:
            break  # too few weak-texture patches left: keep the last estimate (as the authors do)
        variance = refined
    return float(np.sqrt(max(variance, 0.0))) * 255.0


ESTIMATORS: dict[str, GrayEstimator] = {"mad": estimate_mad, "pca": estimate_pca, "liu": estimate_liu}
