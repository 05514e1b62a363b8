"""Evaluation of a model and classical baselines on the very same noisy test images.

For each test image and sigma, one noisy image is drawn from stream(seed, "eval",
image key, sigma) (clipped and rounded to 8 bits under the png8 protocol); the model,
every baseline and the noisy input itself are scored on it, so their numbers compare
directly. Rows are keyed by (image, sigma, method, metric). Timings and blind-mode
sigma estimates are reported beside the rows: they are measurements, and an audit does
not compare them.

Real noise (`evaluate_real`): each clean image comes with a real noisy shot of the same
scene, which is the input as it is: no synthetic noise. Every method is told the sigma
estimated from that shot (blind, the default; rows carry sigma REAL_NOISE), or each
given sigma in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from denoiser.baselines import BaselineUnavailable, build_baseline
from denoiser.config import EvalConfig, ExperimentConfig
from denoiser.determinism import stream
from denoiser.inference import denoise, estimate_sigma
from denoiser.metrics import Lpips, psnr, quantize, ssim
from denoiser.noise import REAL_NOISE, add_awgn


@dataclass
class MetricRow:
    image: str  # image key, e.g. "starter/camera"
    sigma: float  # true noise level (real noise: REAL_NOISE when blind, else the sigma methods were told)
    method: str  # "model", "noisy" or a baseline name
    metric: str  # "psnr", "ssim", "lpips"
    value: float


@dataclass
class Evaluation:
    rows: list[MetricRow] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric or baseline -> reason
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # method -> image -> times
    sigma_used: dict[str, dict[str, float]] = field(default_factory=dict)  # image -> sigma -> estimate (blind)
    baseline_settings: dict[str, dict] = field(default_factory=dict)


def noisy_input(clean: np.ndarray, key: str, sigma: float, seed: int, protocol: str) -> np.ndarray:
    """The noisy test image every method gets, for one image key and sigma."""
    noisy = add_awgn(clean, sigma, stream(seed, "eval", key, sigma))
    return quantize(noisy).astype(np.float32) if protocol == "png8" else noisy


def evaluate(
    model: nn.Module,
    options: EvalConfig,
    seed: int,
    test_images: dict[str, np.ndarray],
    val_images: list[np.ndarray],
    lpips: Lpips | None = None,
    done: Callable[[int, str], None] | None = None,
) -> Evaluation:
    """`done(count, key)` is called after each image (a progress bar's update)."""
    lpips = lpips or Lpips()
    result = Evaluation()
    methods = _methods(model, options, seed, val_images, lpips, result)
    for count, (key, clean) in enumerate(test_images.items(), start=1):
        for sigma in options.sigmas:
            noisy = noisy_input(clean, key, sigma, seed, options.protocol)
            used = estimate_sigma(noisy, options.estimator) if options.blind else sigma
            if options.blind:
                result.sigma_used.setdefault(key, {})[str(sigma)] = used
            _score(methods, key, clean, noisy, sigma, used, lpips, result)
        if done is not None:
            done(count, key)
    return result


def evaluate_real(
    model: nn.Module,
    options: EvalConfig,
    seed: int,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    val_images: list[np.ndarray],
    sigmas: list[float] | None = None,
    lpips: Lpips | None = None,
    done: Callable[[int, str], None] | None = None,
) -> Evaluation:
    """Score every method on real noisy shots: pairs maps image key -> (clean, noisy).

    Blind (sigmas None): each method is told the sigma `options.estimator` measures on the
    shot, recorded per image; otherwise each given sigma in turn. The "noisy" rows are the
    shots' own PSNR/SSIM against their clean references.
    """
    lpips = lpips or Lpips()
    result = Evaluation()
    methods = _methods(model, options, seed, val_images, lpips, result)
    for count, (key, (clean, noisy)) in enumerate(pairs.items(), start=1):
        if sigmas is None:
            used = estimate_sigma(noisy, options.estimator)
            result.sigma_used.setdefault(key, {})["real"] = used
            _score(methods, key, clean, noisy, REAL_NOISE, used, lpips, result)
        for sigma in sigmas or ():
            _score(methods, key, clean, noisy, sigma, sigma, lpips, result)
        if done is not None:
            done(count, key)
    return result


def evaluate_split(
    model: nn.Module,
    config: ExperimentConfig,
    test_images: dict[str, np.ndarray],
    val_images: list[np.ndarray],
    test_noisy: dict[str, np.ndarray] | None = None,
    done: Callable[[int, str], None] | None = None,
) -> Evaluation:
    """A run's own evaluation on its test split: synthetic AWGN at `eval.sigmas`, or, for a
    run trained on pairs, its test images' real noisy files, blind (as `registry eval` on a
    paired dataset)."""
    if config.noise.kind == "pairs":
        pairs = {key: (clean, test_noisy[key]) for key, clean in test_images.items()}
        return evaluate_real(model, config.eval, config.train.seed, pairs, val_images, done=done)
    return evaluate(model, config.eval, config.train.seed, test_images, val_images, done=done)


def _methods(
    model: nn.Module, options: EvalConfig, seed: int, val_images: list[np.ndarray], lpips: Lpips, result: Evaluation
) -> dict[str, Callable[[np.ndarray, float], np.ndarray]]:
    """The model, the noisy input itself and every available baseline, as (noisy, sigma) -> estimate."""
    methods: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
        "model": lambda noisy, sigma: denoise(model, noisy, sigma, options.steps),
        "noisy": lambda noisy, sigma: noisy,
    }
    for name in options.baselines:
        try:
            baseline = build_baseline(name, val_images, options.sigmas, seed)
        except BaselineUnavailable as exc:
            result.unavailable[name] = str(exc)
            continue
        methods[name] = baseline
        if baseline.settings:
            result.baseline_settings[name] = {str(s): v for s, v in baseline.settings.items()}
    if not lpips.available:
        result.unavailable["lpips"] = lpips.unavailable_reason
    model.eval()
    return methods


def _score(methods, key: str, clean: np.ndarray, noisy: np.ndarray, sigma: float, used: float, lpips, result) -> None:
    """Run every method on one noisy image (told sigma `used`) and add its rows under `sigma`."""
    for method, run in methods.items():
        started = time.perf_counter()
        estimate = run(noisy, used)
        result.seconds.setdefault(method, {}).setdefault(key, []).append(time.perf_counter() - started)
        scores = {"psnr": psnr(clean, estimate), "ssim": ssim(clean, estimate)}
        if lpips.available:
            scores["lpips"] = lpips(clean, estimate)
        result.rows += [MetricRow(key, sigma, method, name, value) for name, value in scores.items()]


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
