"""`registry denoise` on a large colour photo: wall time and peak memory; and what tiling costs.

Usage, from the checkout: python -m bench.photos [--model models/reference] [--repeats 5] [--whole]
Makes a 6000x4000 colour photo (a Kodak24 image upscaled, AWGN sigma 15 added, JPEG
quality 95, in a temporary folder: never committed) and runs `registry denoise` on it in
a child process (a gray model: `--luminance`; default tiles), reading the child's peak
resident memory from getrusage; `--whole` also runs it with `--tile 0` (the whole image
at once: about 18 GB with the reference model). Then, in this process, times the model
on a 512x512 crop, whole and in 256-pixel tiles (median of the repeats, torch threads as
the model records), with the largest difference between the two. Prints a table and
writes bench/results/photos.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.common import ROOT, SHARED, markdown_table, median_seconds, write_result
from denoiser.defaults import DEFAULT_TILE
from denoiser.tiling import denoise_tiled
from registry.model_folders import open_model_folder

SIZE = (6000, 4000)
SIGMA = 15.0


def make_photo(folder: Path) -> Path:
    source = Image.open(SHARED / "kodak24" / "kodim01.png").convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    pixels = np.asarray(source, dtype=np.float32)
    pixels += np.random.default_rng(0).normal(0, SIGMA, pixels.shape).astype(np.float32)
    path = folder / "large.jpg"
    Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8)).save(path, quality=95)
    return path


def run_denoise(model: str, photo: Path, out: Path, tile: int, luminance: bool) -> dict:
    """`registry denoise` in a fresh interpreter whose only child it is: its peak is the command's own."""
    command = [sys.executable, "-m", "registry.cli", "denoise", model, str(photo), "--out", str(out)]
    command += ["--sigma", str(SIGMA), "--tile", str(tile), "--no-sign"] + (["--luminance"] if luminance else [])
    measure = (
        "import json, resource, subprocess, sys, time; started = time.perf_counter(); "
        f"code = subprocess.run({command!r}, stdout=subprocess.DEVNULL).returncode; "
        "print(json.dumps({'code': code, 'seconds': time.perf_counter() - started, "
        "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    result = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "reference"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--whole", action="store_true", help="also denoise the large photo whole (--tile 0)")
    args = parser.parse_args()
    model = open_model_folder(Path(args.model), [], allow_unverified=True)
    luminance = model.config.model.channels == 1
    rows, data = (
        [],
        {"model": args.model, "photo": f"{SIZE[0]}x{SIZE[1]} colour JPEG", "threads": torch.get_num_threads()},
    )
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as folder:
        photo = make_photo(Path(folder))
        for tile in [DEFAULT_TILE] + ([0] if args.whole else []):
            run = run_denoise(args.model, photo, Path(folder) / f"out-{tile}", tile, luminance)
            data[f"large_tile_{tile}"] = run
            rows.append([f"{SIZE[0]}x{SIZE[1]}, --tile {tile}", run["seconds"], run["peak_mb"]])
        window = Image.open(photo).crop((2000, 1500, 2512, 2012)).convert("L" if luminance else "RGB")
        crop = np.asarray(window, dtype=np.float32) / 255
    network = model.network
    timings = {}
    for tile in (0, 256):
        timings[tile] = median_seconds(lambda t=tile: denoise_tiled(network, crop, SIGMA, tile=t), args.repeats, True)
        rows.append([f"512x512 in-process, tile {tile or 'whole'}", timings[tile], ""])
    difference = float(
        np.abs(denoise_tiled(network, crop, SIGMA, tile=0) - denoise_tiled(network, crop, SIGMA, tile=256)).max()
    )
    data |= {"crop_512_seconds": {str(k): v for k, v in timings.items()}, "crop_512_max_abs_difference": difference}
    print(markdown_table(["what", "seconds", "peak MB"], rows))
    print(f"512x512: tiled vs whole max abs difference {difference:.2e}; {time.strftime('%Y-%m-%d')}")
    print(f"wrote {write_result('photos', data)}")


if __name__ == "__main__":
    main()
