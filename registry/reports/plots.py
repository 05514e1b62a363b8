"""Report figures from the report's own data, as PNG bytes (matplotlib, no display)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, the same output everywhere

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def loss_curves(runs: list[dict[str, Any]]) -> bytes:
    """Training and validation loss against step, one colour per run."""
    figure, axis = plt.subplots(figsize=(6, 3.2))
    for index, run in enumerate(runs):
        color = f"C{index}"
        points = run["method"]["loss_curve"]
        label = run["summary"]["name"] if len(runs) > 1 else ""
        for split, style in (("train", "--"), ("val", "-")):
            series = [(p["step"], p["value"]) for p in points if p["split"] == split]
            if series:
                steps, values = zip(*series)
                axis.plot(steps, values, style, color=color, label=f"{label} {split}".strip())
    axis.set_xlabel("step")
    axis.set_ylabel(f"{runs[0]['method']['training']['loss'].upper()} loss")
    axis.set_yscale("log")
    axis.legend(fontsize=7)
    return _png(figure)


def psnr_against_sigma(methods: list[dict[str, Any]], title: str) -> bytes:
    """Mean PSNR against sigma for the model and every baseline (rows of tables.methods_table)."""
    figure, axis = plt.subplots(figsize=(6, 3.2))
    for method in sorted({row["Method"] for row in methods}, key=lambda m: (m != "model", m)):
        rows = sorted((r for r in methods if r["Method"] == method), key=lambda r: r["Sigma"])
        axis.plot(
            [r["Sigma"] for r in rows],
            [r["Mean_PSNR"] for r in rows],
            "o-" if method == "model" else ".--",
            linewidth=2 if method == "model" else 1,
            label=method,
        )
    axis.set_xlabel("noise sigma (8-bit scale)")
    axis.set_ylabel("mean PSNR (dB)")
    axis.set_title(title)
    axis.legend(fontsize=7)
    return _png(figure)


def psnr_gain(table1: list[dict[str, Any]]) -> bytes:
    """Per-image PSNR gain of the model over the table's baseline."""
    rows = [r for r in table1 if r["Proposed_PSNR"] is not None and r["Baseline_PSNR"] is not None]
    gains = [r["Proposed_PSNR"] - r["Baseline_PSNR"] for r in rows]
    figure, axis = plt.subplots(figsize=(6, 0.9 + 0.22 * max(len(rows), 1)))
    labels = [r["Image_ID"].split("/", 1)[-1] for r in rows]
    axis.barh(labels, gains, color=["C2" if g >= 0 else "C3" for g in gains])
    axis.axvline(0, color="black", linewidth=0.8)
    baseline = rows[0]["Baseline"] if rows else "baseline"
    axis.set_xlabel(f"PSNR gain over {baseline} (dB), sigma {rows[0]['Sigma']:g}" if rows else "PSNR gain (dB)")
    axis.invert_yaxis()
    return _png(figure)
