"""Bias and mean absolute error of each noise estimator on BSD68 at sigma 5, 15, 25, 50.

Usage, from the checkout: python -m bench.noise_estimation
Each image gets AWGN with a fixed seed per (image, sigma); an estimator's error is
estimate - true sigma (8-bit scale). Prints a table and writes
bench/results/noise_estimation.json.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import dataset_files, markdown_table, write_result
from denoiser.determinism import stream
from denoiser.estimation import ESTIMATORS
from denoiser.images import load_gray
from denoiser.noise import add_awgn

SIGMAS = (5.0, 15.0, 25.0, 50.0)


def main() -> None:
    images = {path.stem: load_gray(path) for path in dataset_files("bsd68")}
    results, rows = {}, []
    for name, estimate in ESTIMATORS.items():
        for sigma in SIGMAS:
            started = time.perf_counter()
            errors = [
                estimate(add_awgn(image, sigma, stream(0, "bench-noise", key, sigma))) - sigma
                for key, image in images.items()
            ]
            seconds = (time.perf_counter() - started) / len(images)
            errors = np.array(errors)
            results[f"{name}@{sigma:g}"] = {
                "estimator": name,
                "sigma": sigma,
                "bias": float(errors.mean()),
                "mae": float(np.abs(errors).mean()),
                "max_abs_error": float(np.abs(errors).max()),
                "seconds_per_image": seconds,
                "images": len(errors),
            }
            r = results[f"{name}@{sigma:g}"]
            rows.append([name, f"{sigma:g}", r["bias"], r["mae"], r["max_abs_error"], f"{1000 * seconds:.0f}"])
    print(f"Noise estimation on BSD68 ({len(images)} images), errors in 8-bit units")
    print(markdown_table(["estimator", "sigma", "bias", "MAE", "max |error|", "ms / image"], rows))
    print(f"\nwrote {write_result('noise_estimation', results)}")


if __name__ == "__main__":
    main()
