"""Shared helpers of the benchmark scripts: where the benchmark images are, table output."""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"


def dataset_files(name: str) -> list[Path]:
    folder = SHARED / name
    if not folder.is_dir():
        raise SystemExit(f"benchmark images not found at {folder} (expected ../shared/datasets/{name})")
    return sorted(folder.glob("*.png"))


def manifest_images(folder: Path, name: str, channels: int = 1, include_withdrawn: bool = False) -> dict:
    """A dataset's images keyed as the registry keys them ("bsd68/test001"), withdrawn consent left out.

    Read from its MANIFEST.csv, not through registry.manifests: that pulls in SQLAlchemy,
    which a GPU machine without the registry lacks.
    """
    from denoiser.images import load_image  # numpy and Pillow only when images are wanted

    with open(folder / name / "MANIFEST.csv", newline="") as manifest:
        rows = list(csv.DictReader(manifest))
    return {
        f"{name}/{row['image_id']}": load_image(folder / name / row["file"], channels)
        for row in rows
        if include_withdrawn or row["consent"] != "withdrawn"
    }


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def median_seconds(function: Callable[[], object], repeats: int, warm_up: bool = False) -> float:
    """Median wall time of `repeats` calls (after one untimed call when `warm_up`)."""
    if warm_up:
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
