"""A figure an exported model folder carries so anyone can check that its weights still denoise
as they did when it was exported: scikit-image's `camera` (gray models) or `astronaut`
(colour), AWGN at sigma 25 drawn from seed 0 as `registry eval` draws it (8-bit clipped
noisy file), denoised whole in one step; the PSNR in dB. The folder is signed, so the
figure cannot be edited to match other weights; tests/test_reference_models.py re-runs it
for every committed model folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from denoiser.config import ExperimentConfig
from denoiser.evaluation import noisy_input
from denoiser.inference import denoise
from denoiser.metrics import psnr

CHECK_SIGMA, CHECK_SEED = 25.0, 0
CHECK_IMAGES = {1: "camera", 3: "astronaut"}  # by the model's channels
TOLERANCE_DB = 0.01


def check_image(channels: int) -> tuple[str, np.ndarray]:
    """The check's clean image, float32 in [0, 1]: gray (H, W) or RGB (H, W, 3)."""
    from skimage import data

    name = CHECK_IMAGES[channels]
    return f"skimage.data.{name}", getattr(data, name)().astype(np.float32) / 255.0


def reference_check(network: nn.Module, config: ExperimentConfig) -> dict[str, Any]:
    """The check run on `network`: what was denoised, how, and the PSNR."""
    image, clean = check_image(config.model.channels)
    noisy = noisy_input(clean, image, CHECK_SIGMA, CHECK_SEED, "png8")
    estimate = np.clip(denoise(network, noisy, CHECK_SIGMA), 0.0, 1.0)
    return {
        "image": image,
        "sigma": CHECK_SIGMA,
        "seed": CHECK_SEED,
        "protocol": "png8",
        "psnr_db": round(float(psnr(clean, estimate)), 4),
        "noisy_psnr_db": round(float(psnr(clean, noisy)), 4),
    }
