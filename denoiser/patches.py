"""Training batches and the fixed validation set, each a pure function of the seed.

A batch is drawn from stream(seed, "batch", step): which image, where to crop, which
of the 8 flips/rotations, which sigma and which noise. Nothing carries over from one
step to the next, which is what makes resuming exact.

With `noise.kind: pairs` the noise is real: `noisy_images[i]` is the noisy shot of
`images[i]`, and the same draws (image, crop position, flip/rotation) cut both, so the
streams match a synthetic run's up to the noise. The network is told the crop's
measured level, std(noisy - clean) on the 8-bit scale over the whole crop (all
channels): the same quantity a synthetic AWGN crop would be told, and what a user's
`--sigma` for such a photo means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from denoiser.config import DataConfig, NoiseConfig
from denoiser.determinism import stream
from denoiser.layout import to_batch
from denoiser.noise import add_noise, apply_noise, draw_level


@dataclass
class Batch:
    clean: torch.Tensor  # (B, C, P, P)
    noisy: torch.Tensor  # (B, C, P, P), unclipped
    sigma: torch.Tensor  # (B,), 8-bit scale

    def to(self, device: str | torch.device) -> Batch:
        return Batch(self.clean.to(device), self.noisy.to(device), self.sigma.to(device))


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    top = int(rng.integers(0, image.shape[0] - size + 1))
    left = int(rng.integers(0, image.shape[1] - size + 1))
    return image[top : top + size, left : left + size]


def dihedral(patch: np.ndarray, index: int) -> np.ndarray:
    """One of the 8 symmetries of the square: index % 4 quarter turns, then a flip if >= 4."""
    patch = np.rot90(patch, index % 4)  # turns the first two axes: the channels of (P, P, 3) stay put
    return np.flipud(patch) if index >= 4 else patch


def color_jitter(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A slight colour cast: each channel of an (P, P, 3) crop scaled by 1 + U(-strength, strength).

    Clipped back to [0, 1], so the clean target is still an image a camera could give.
    """
    gains = 1.0 + rng.uniform(-strength, strength, size=patch.shape[-1])
    return np.clip(patch * gains.astype(np.float32), 0.0, 1.0).astype(np.float32)


def measured_sigma(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The real noise level of a pair of crops: std of (noisy - clean), 8-bit scale."""
    return float(np.std(noisy.astype(np.float64) - clean)) * 255.0


def _stacked(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """Clean and noisy along a trailing channel axis, so one crop/rotation cuts both alike."""
    as_channels = [image if image.ndim == 3 else image[..., None] for image in (clean, noisy)]
    return np.concatenate(as_channels, axis=-1)


def _unstacked(pair: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    channels = 1 if clean.ndim == 2 else clean.shape[-1]
    first, second = pair[..., :channels], pair[..., channels:]
    if clean.ndim == 2:
        first, second = first[..., 0], second[..., 0]
    return np.ascontiguousarray(first), np.ascontiguousarray(second)


def sample_batch(
    images: list[np.ndarray],
    data: DataConfig,
    noise: NoiseConfig,
    batch_size: int,
    seed: int,
    step: int,
    noisy_images: list[np.ndarray] | None = None,
) -> Batch:
    rng = stream(seed, "batch", step)
    clean, noisy, sigmas = [], [], []
    for _ in range(batch_size):
        index = int(rng.integers(0, len(images)))
        source = images[index] if noisy_images is None else _stacked(images[index], noisy_images[index])
        patch = random_crop(source, data.patch_size, rng)
        if data.augment:
            patch = dihedral(patch, int(rng.integers(0, 8)))
        if noisy_images is not None:  # config validation refuses colour jitter with pairs
            patch, noisy_patch = _unstacked(patch, images[index])
            clean.append(patch)
            noisy.append(noisy_patch)
            sigmas.append(measured_sigma(patch, noisy_patch))
            continue
        if data.color_jitter > 0:  # drawn only when on, so runs without it keep their streams
            patch = color_jitter(patch, data.color_jitter, rng)
        patch = np.ascontiguousarray(patch)
        if noise.per == "image":  # every patch of this image in this batch shares one level
            level = draw_level(noise, stream(seed, "image-level", step, index))
            noisy_patch, sigma = add_noise(patch, noise, level, rng)
        else:
            noisy_patch, sigma = apply_noise(patch, noise, rng)
        clean.append(patch)
        noisy.append(noisy_patch)
        sigmas.append(sigma)
    return _to_batch(clean, noisy, sigmas)


def validation_batch(
    images: list[np.ndarray],
    data: DataConfig,
    noise: NoiseConfig,
    seed: int,
    noisy_images: list[np.ndarray] | None = None,
) -> Batch:
    """Fixed crops of the validation images with fixed noise (or their real noisy files), reused at every validation."""
    clean, noisy, sigmas = [], [], []
    for index, image in enumerate(images):
        for crop in range(data.val_crops):
            rng = stream(seed, "val", index, crop)
            if noisy_images is None:
                patch = np.ascontiguousarray(random_crop(image, data.patch_size, rng))
                noisy_patch, sigma = apply_noise(patch, noise, rng)
            else:
                pair = random_crop(_stacked(image, noisy_images[index]), data.patch_size, rng)
                patch, noisy_patch = _unstacked(pair, image)
                sigma = measured_sigma(patch, noisy_patch)
            clean.append(patch)
            noisy.append(noisy_patch)
            sigmas.append(sigma)
    return _to_batch(clean, noisy, sigmas)


def _to_batch(clean: list[np.ndarray], noisy: list[np.ndarray], sigmas: list[float]) -> Batch:
    return Batch(clean=to_batch(clean), noisy=to_batch(noisy), sigma=torch.tensor(sigmas, dtype=torch.float32))
