"""Noise models. Sigma is always on the 8-bit scale; images are floats in [0, 1].

AWGN follows the published benchmark protocol: noise = sigma/255 * N(0, 1) is added in
float and the noisy image is *not* clipped. Poisson-Gaussian models a photon-limited
sensor with read noise; JPEG is compression at a given quality. Each model also
returns the noise level a sigma-conditioned network should be told (for AWGN, sigma
itself; for the others, the standard deviation of the noise they added).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from denoiser.config import NoiseConfig

REAL_NOISE = 0.0  # the sigma of rows scored blind on real noisy files: there is no synthetic level


def add_awgn(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise at one sigma, unclipped, float32."""
    noise = rng.standard_normal(clean.shape, dtype=np.float32)
    return (clean + noise * np.float32(sigma / 255.0)).astype(np.float32)


def add_poisson_gaussian(clean: np.ndarray, peak: float, read_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Photon noise (white = `peak` photons) plus Gaussian read noise, unclipped, float32."""
    photons = rng.poisson(np.clip(clean, 0, None).astype(np.float64) * peak)
    read = rng.standard_normal(clean.shape) * (read_sigma / 255.0)
    return (photons / peak + read).astype(np.float32)


def poisson_gaussian_sigma(clean: np.ndarray, peak: float, read_sigma: float) -> float:
    """Average standard deviation of Poisson-Gaussian noise on this image, 8-bit scale."""
    variance = float(np.mean(np.clip(clean, 0, None))) / peak + (read_sigma / 255.0) ** 2
    return math.sqrt(variance) * 255.0


def jpeg_compress(clean: np.ndarray, quality: int) -> np.ndarray:
    """Round to 8 bits, encode as baseline JPEG at `quality`, decode; float32 in [0, 1]."""
    eight_bit = np.round(np.clip(clean, 0, 1) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(eight_bit).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer), dtype=np.float32) / np.float32(255.0)


def sample_sigma(config: NoiseConfig, rng: np.random.Generator) -> float:
    """One AWGN sigma from the configured schedule."""
    if config.schedule == "fixed":
        return config.sigma_min
    if config.schedule == "uniform":
        return float(rng.uniform(config.sigma_min, config.sigma_max))
    # log-uniform: as many patches in [5, 10] as in [25, 50], so low noise is not starved.
    return float(math.exp(rng.uniform(math.log(config.sigma_min), math.log(config.sigma_max))))


def draw_level(config: NoiseConfig, rng: np.random.Generator) -> float:
    """The strength of one noise draw: AWGN sigma, Poisson-Gaussian peak, or JPEG quality."""
    if config.kind == "poisson-gaussian":
        return float(math.exp(rng.uniform(math.log(config.peak_min), math.log(config.peak_max))))
    if config.kind == "jpeg":
        return float(rng.integers(config.jpeg_quality_min, config.jpeg_quality_max + 1))
    return sample_sigma(config, rng)


def add_noise(
    clean: np.ndarray, config: NoiseConfig, level: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Noisy image at a drawn level, and the sigma a network should be conditioned on."""
    if config.kind == "poisson-gaussian":
        noisy = add_poisson_gaussian(clean, level, config.read_sigma, rng)
        return noisy, poisson_gaussian_sigma(clean, level, config.read_sigma)
    if config.kind == "jpeg":
        noisy = jpeg_compress(clean, int(level))
        return noisy, max(float(np.std(noisy - clean)) * 255.0, 0.5)
    return add_awgn(clean, level, rng), level


def apply_noise(clean: np.ndarray, config: NoiseConfig, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Draw a level and add noise, both from one generator."""
    return add_noise(clean, config, draw_level(config, rng), rng)
