"""Evaluation of a model and baselines on the very same noisy test images.

For each test image and sigma, one noisy image is drawn from stream(seed, "eval",
image key, sigma); the model, the baselines and the noisy input itself are all scored on
it, so their numbers compare directly. Rows are keyed by (image, sigma, method, metric).
Timings are reported separately: they are measurements, not results, and an audit does
not compare them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from denoiser.baselines import GaussianFilter
from denoiser.config import ExperimentConfig
from denoiser.determinism import stream
from denoiser.metrics import Lpips, psnr, ssim
from denoiser.noise import add_awgn


@dataclass
class MetricRow:
    image: str  # image key, e.g. "starter/camera"
    sigma: float
    method: str  # "model", "noisy" or a baseline name
    metric: str  # "psnr", "ssim", "lpips"
    value: float


@dataclass
class Evaluation:
    rows: list[MetricRow] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> reason
    seconds: dict[str, list[float]] = field(default_factory=dict)  # method -> time per image
    baseline_settings: dict[str, dict] = field(default_factory=dict)


@torch.no_grad()
def denoise(model: nn.Module, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Run a network on one (H, W) image at a known sigma; returns float32 (H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))[None, None]
    return model(tensor, torch.tensor([sigma], dtype=torch.float32))[0, 0].numpy()


def evaluate(
    model: nn.Module,
    config: ExperimentConfig,
    test_images: dict[str, np.ndarray],
    val_images: list[np.ndarray],
    lpips: Lpips | None = None,
) -> Evaluation:
    lpips = lpips or Lpips()
    seed = config.train.seed
    gaussian = GaussianFilter.tuned(val_images, config.eval.sigmas, seed)
    methods = {
        "model": lambda noisy, sigma: denoise(model, noisy, sigma),
        "noisy": lambda noisy, sigma: noisy,
        gaussian.name: gaussian,
    }
    result = Evaluation(baseline_settings={gaussian.name: {"filter_std_by_sigma": gaussian.widths}})
    if not lpips.available:
        result.unavailable["lpips"] = lpips.unavailable_reason
    model.eval()
    for key, clean in test_images.items():
        for sigma in config.eval.sigmas:
            noisy = add_awgn(clean, sigma, stream(seed, "eval", key, sigma))
            for method, run in methods.items():
                started = time.perf_counter()
                estimate = run(noisy, sigma)
                result.seconds.setdefault(method, []).append(time.perf_counter() - started)
                scores = {"psnr": psnr(clean, estimate), "ssim": ssim(clean, estimate)}
                if lpips.available:
                    scores["lpips"] = lpips(clean, estimate)
                result.rows += [MetricRow(key, sigma, method, name, value) for name, value in scores.items()]
    return result


def aggregate(rows: list[MetricRow]) -> list[dict]:
    """Mean and sample standard deviation per (sigma, method, metric)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault((row.sigma, row.method, row.metric), []).append(row.value)
    return [
        {
            "sigma": sigma,
            "method": method,
            "metric": metric,
            "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "count": len(values),
        }
        for (sigma, method, metric), values in sorted(groups.items())
    ]
