"""Bias and mean absolute error of each noise estimator: gray, colour and real camera noise.

Usage, from the checkout: python -m bench.noise_estimation [--every N]
- BSD68 (gray) and CBSD68 (colour) at sigma 5, 15, 25, 50: AWGN with a fixed seed per
  (image, sigma), unclipped (the published protocol), independent per channel in colour.
- CC15 (real camera noise): the noisy shot as it is; the true sigma of an image is the
  standard deviation of noisy - clean (clean: the mean of 500 shots), 8-bit scale, over
  all three channels, the level the colour rule of denoiser.estimation reports.
An estimator's error is estimate - true sigma (8-bit units). `--every N` keeps every Nth
image of each set (default 1: all). Prints a table and writes
bench/results/noise_estimation.json, with each estimator's MAE averaged over all the
conditions, gray, colour and real, the figure blind mode's default is chosen by.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Iterator
from functools import partial

import numpy as np
from PIL import Image

from bench.common import SHARED, dataset_files, markdown_table, write_result
from denoiser.determinism import stream
from denoiser.estimation import ESTIMATORS
from denoiser.images import load_gray
from denoiser.noise import add_awgn

SIGMAS = (5.0, 15.0, 25.0, 50.0)


def load_rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def synthetic(label: str, images: dict[str, np.ndarray], sigma: float) -> Iterator[tuple[np.ndarray, float]]:
    for key, image in images.items():
        yield add_awgn(image, sigma, stream(0, label, key, sigma)), sigma


def real_pairs(every: int) -> list[tuple[np.ndarray, float]]:
    folder = SHARED / "cc15"
    with open(folder / "MANIFEST.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[::every]
    pairs = []
    for row in rows:
        clean, noisy = load_rgb(folder / row["file"]), load_rgb(folder / row["noisy_file"])
        pairs.append((noisy, float(np.std(noisy.astype(np.float64) - clean)) * 255.0))
    return pairs


def measure(cases: Iterator[tuple[np.ndarray, float]], estimate) -> dict:
    errors, truths, seconds = [], [], 0.0
    for noisy, truth in cases:
        started = time.perf_counter()  # the estimator alone, not drawing the noise
        errors.append(estimate(noisy) - truth)
        seconds += time.perf_counter() - started
        truths.append(truth)
    errors = np.array(errors)
    return {
        "bias": float(errors.mean()),
        "mae": float(np.abs(errors).mean()),
        "max_abs_error": float(np.abs(errors).max()),
        "seconds_per_image": seconds / len(errors),
        "images": len(errors),
        "true_sigma_mean": float(np.mean(truths)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="keep every Nth image of each set")
    every = parser.parse_args().every
    gray = {path.stem: load_gray(path) for path in dataset_files("bsd68")[::every]}
    colour = {path.stem: load_rgb(path) for path in dataset_files("cbsd68")[::every]}
    # Noisy images are drawn again for each estimator (same seeds), not all held at once.
    conditions = [("bsd68 gray", f"{s:g}", partial(synthetic, "bench-noise", gray, s)) for s in SIGMAS]  # as before
    conditions += [("cbsd68 colour", f"{s:g}", partial(synthetic, "bench-noise-colour", colour, s)) for s in SIGMAS]
    real = real_pairs(every)
    conditions.append(("cc15 real", f"{np.mean([t for _, t in real]):.2f} (mean)", lambda: iter(real)))

    results, rows = {"conditions": {}, "mean_mae": {}}, []
    for dataset, sigma, cases in conditions:
        for name, estimate in ESTIMATORS.items():
            r = measure(cases(), estimate)
            results["conditions"][f"{dataset}/{name}@{sigma.split()[0]}"] = {
                "dataset": dataset,
                "estimator": name,
                "sigma": sigma,
                **r,
            }
            rows.append(
                [dataset, sigma, name, r["bias"], r["mae"], r["max_abs_error"], f"{1000 * r['seconds_per_image']:.0f}"]
            )
    for name in ESTIMATORS:
        maes = [c["mae"] for c in results["conditions"].values() if c["estimator"] == name]
        results["mean_mae"][name] = float(np.mean(maes))
    results["best"] = min(results["mean_mae"], key=results["mean_mae"].get)
    results["images"] = {"bsd68": len(gray), "cbsd68": len(colour), "cc15": len(real), "every": every}

    print(
        f"Noise estimation, errors in 8-bit units: BSD68 ({len(gray)} images), CBSD68 ({len(colour)}), "
        f"CC15 real noise ({len(real)})"
    )
    print(markdown_table(["set", "sigma", "estimator", "bias", "MAE", "max |error|", "ms / image"], rows))
    summary = ", ".join(f"{name} {mae:.2f}" for name, mae in results["mean_mae"].items())
    print(f"\nMAE averaged over the {len(conditions)} conditions: {summary}; best: {results['best']}")
    print(f"wrote {write_result('noise_estimation', results)}")


if __name__ == "__main__":
    main()
