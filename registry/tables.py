"""The seed study's Tables 1-4, computed from registry records (never recomputed).

Each function returns a list of row dicts whose keys are the study's column names, so
the CLI, the JSON output and later reports all show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from denoiser.noise import REAL_NOISE
from registry.models import Evaluation, Run


@dataclass
class EvalView:
    """What the tables need from one evaluation, whether a run's own or a `registry eval`."""

    dataset: str
    values: dict[tuple[str, float, str, str], float]  # (image, sigma, method, metric) -> value
    median_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> image -> ms
    image_sizes: dict[str, str] = field(default_factory=dict)  # image -> "HxW"
    cost: dict[str, dict[str, float]] = field(default_factory=dict)  # "HxW" -> gflops, peak_memory_mb
    unavailable: dict[str, str] = field(default_factory=dict)
    excluded: list[dict] = field(default_factory=list)
    note: str = ""
    real_noise: bool = False  # scored on a paired dataset's real noisy files, not synthetic AWGN
    seen_in_training: dict[str, str] = field(default_factory=dict)  # image -> train/val of the run evaluated

    @classmethod
    def of_evaluation(cls, evaluation: Evaluation) -> EvalView:
        details = evaluation.details
        note = f"withdrawn images included: {evaluation.reason}" if evaluation.include_withdrawn else ""
        return cls(
            evaluation.dataset,
            {(m.image_key, m.sigma, m.method, m.metric): m.value for m in evaluation.metrics},
            details.get("median_ms", {}),
            details.get("image_sizes", {}),
            evaluation.cost,
            details.get("unavailable", {}),
            evaluation.excluded,
            note,
            details.get("noise") == "real",
            details.get("seen_in_training") or {},
        )

    @classmethod
    def of_run(cls, run: Run) -> EvalView:
        details = run.evaluation or {}
        return cls(
            "test split",
            {(m.image_key, m.sigma, m.method, m.metric): m.value for m in run.metrics},
            details.get("median_ms", {}),
            details.get("image_sizes", {}),
            details.get("cost", {}),
            details.get("unavailable", {}),
            run.excluded,
            real_noise=details.get("noise") == "real",  # a run trained on pairs scores its real noisy files
        )

    @property
    def sigmas(self) -> list[float]:
        return sorted({sigma for _, sigma, _, _ in self.values})

    @property
    def images(self) -> list[str]:
        return sorted({image for image, _, _, _ in self.values})

    @property
    def methods(self) -> list[str]:
        return sorted({method for _, _, method, _ in self.values})

    def series(self, sigma: float, method: str, metric: str) -> list[float]:
        return [
            self.values[(i, sigma, method, metric)] for i in self.images if (i, sigma, method, metric) in self.values
        ]

    def mean(self, sigma: float, method: str, metric: str) -> float | None:
        values = self.series(sigma, method, metric)
        return float(np.mean(values)) if values else None

    def std(self, sigma: float, method: str, metric: str) -> float | None:
        values = self.series(sigma, method, metric)
        return float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if values else None)

    def best_baseline(self, sigma: float) -> str | None:
        """BM3D when it ran, else the classical baseline with the best mean PSNR."""
        baselines = [m for m in self.methods if m not in ("model", "noisy")]
        if "bm3d" in baselines:
            return "bm3d"
        scored = [(self.mean(sigma, m, "psnr") or -1.0, m) for m in baselines]
        return max(scored)[1] if scored else None

    def model_ms(self) -> list[float]:
        return list(self.median_ms.get("model", {}).values())

    def total_gops(self) -> float | None:
        sizes = [self.image_sizes.get(i) for i in self.images]
        if not sizes or any(s not in self.cost for s in sizes):
            return None
        return float(sum(self.cost[s]["gflops"] for s in sizes))


def sigma_label(view: EvalView, sigma: float) -> float | str:
    """The Sigma column: the AWGN level, or which real noise and what the methods were told."""
    if not view.real_noise:
        return sigma
    return "real noise (blind)" if sigma == REAL_NOISE else f"real noise (told sigma {sigma:g})"


def _lpips(view: EvalView, value: float | None) -> float | str | None:
    return "n/a" if "lpips" in view.unavailable else value


def table1(view: EvalView, sigma: float) -> list[dict]:
    """Per image: baseline and proposed PSNR/SSIM, LPIPS, inference time, memory."""
    baseline = view.best_baseline(sigma)
    rows = []
    for image in view.images:
        size = view.image_sizes.get(image)
        noisy = {"Noisy_PSNR": view.values.get((image, sigma, "noisy", "psnr"))} if view.real_noise else {}
        rows.append(
            {
                "Image_ID": image,
                "Sigma": sigma_label(view, sigma),
                **noisy,
                "Baseline": baseline,
                "Baseline_PSNR": view.values.get((image, sigma, baseline, "psnr")),
                "Baseline_SSIM": view.values.get((image, sigma, baseline, "ssim")),
                "Proposed_PSNR": view.values.get((image, sigma, "model", "psnr")),
                "Proposed_SSIM": view.values.get((image, sigma, "model", "ssim")),
                "LPIPS": _lpips(view, view.values.get((image, sigma, "model", "lpips"))),
                "Inference_Time_ms": view.median_ms.get("model", {}).get(image),
                "Memory_MB": view.cost.get(size, {}).get("peak_memory_mb") if size else None,
            }
        )
    return rows


def _aggregate_row(view: EvalView, sigma: float) -> dict:
    times = view.model_ms()
    return {
        "Mean_PSNR": view.mean(sigma, "model", "psnr"),
        "Mean_SSIM": view.mean(sigma, "model", "ssim"),
        "Mean_LPIPS": _lpips(view, view.mean(sigma, "model", "lpips")),
        "StdDev_PSNR": view.std(sigma, "model", "psnr"),
        "StdDev_SSIM": view.std(sigma, "model", "ssim"),
        "Avg_Inference_Time_ms": float(np.mean(times)) if times else None,
        "Total_GOps": view.total_gops(),
    }


def table2(view: EvalView) -> list[dict]:
    """Aggregates of the proposed model per sigma."""
    return [
        {
            "Sigma": sigma_label(view, sigma),
            "Images": len(view.series(sigma, "model", "psnr")),
            **_aggregate_row(view, sigma),
        }
        for sigma in view.sigmas
    ]


def table3(views: list[EvalView]) -> list[dict]:
    """Cross-dataset: the aggregates of Table 2 for every evaluated dataset."""
    return [
        {
            "Dataset_ID": view.dataset + (" (withdrawn included)" if view.note else ""),
            "Sigma": sigma_label(view, sigma),
            **_aggregate_row(view, sigma),
        }
        for view in views
        for sigma in view.sigmas
    ]


def methods_table(view: EvalView) -> list[dict]:
    """Mean PSNR / SSIM of every method (model, baselines, noisy input) per sigma."""
    return [
        {
            "Sigma": sigma_label(view, sigma),
            "Method": method,
            "Mean_PSNR": view.mean(sigma, method, "psnr"),
            "StdDev_PSNR": view.std(sigma, method, "psnr"),
            "Mean_SSIM": view.mean(sigma, method, "ssim"),
            "Median_ms": float(np.median(list(view.median_ms.get(method, {}).values()) or [np.nan])),
        }
        for sigma in view.sigmas
        for method in view.methods
    ]


def ablation_components(config: dict) -> dict[str, str]:
    """The study's Table 4 columns, read from a run's config."""
    model, optim, evaluation = config["model"], config["optim"], config["eval"]
    noise_modeling = model["noise_map"] or model.get("noise_embedding") or evaluation.get("blind")
    priors = model["target"] == "residual" and model.get("skip_connections", True)
    standard = optim["schedule"] == "cosine" and optim["warmup_steps"] > 0
    return {
        "Noise_Modeling": "Yes" if noise_modeling else "No",
        "Priors": "Yes" if priors else "No",
        "Training_Schedule": "Standard" if standard else "Altered",
    }


def table4(runs: list[Run], sigma: float = 25.0) -> list[dict]:
    """Ablations: one row per run, from each run's own test-split evaluation."""
    rows = []
    for run in runs:
        view = EvalView.of_run(run)
        rows.append(
            {
                "Ablation_Variant": run.name,
                "Run": run.id,
                **ablation_components(run.config),
                "Sigma": sigma,
                **{k: v for k, v in _aggregate_row(view, sigma).items() if k != "Total_GOps"},
            }
        )
    return rows


def evaluation_tables(evaluation_id: int, view: EvalView) -> dict:
    """Everything `registry eval` reports about one evaluation, as plain data."""
    return {
        "evaluation": evaluation_id,
        "dataset": view.dataset,
        "excluded": view.excluded,
        "note": view.note,
        "noise": "real" if view.real_noise else "synthetic",
        "unavailable": view.unavailable,
        "methods": methods_table(view),
        "table1": [row for sigma in view.sigmas for row in table1(view, sigma)],
        "table2": table2(view),
    }
