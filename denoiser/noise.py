"""Noise models. Sigma is always on the 8-bit scale; images are floats in [0, 1].

AWGN follows the published benchmark protocol: noise = sigma/255 * N(0, 1) is added in
float and the noisy image is *not* clipped.
"""

from __future__ import annotations

import math

import numpy as np

from denoiser.config import NoiseConfig


def add_awgn(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise at one sigma, unclipped, float32."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32)
    return (clean + noise * np.float32(sigma / 255.0)).astype(np.float32)


def sample_sigma(config: NoiseConfig, rng: np.random.Generator) -> float:
    """One training sigma from the configured schedule."""
    if config.schedule == "fixed":
        return config.sigma_min
    if config.schedule == "uniform":
        return float(rng.uniform(config.sigma_min, config.sigma_max))
    # log-uniform: as many patches in [5, 10] as in [25, 50], so low noise is not starved.
    return float(math.exp(rng.uniform(math.log(config.sigma_min), math.log(config.sigma_max))))
