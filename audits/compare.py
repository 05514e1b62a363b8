"""Comparing a re-execution with the record: checkpoints step by step, then every metric.

Each difference says whether it lies within the run's recorded tolerance
(config.audit); tolerances matter only when the environment or code differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from registry.models import Run
from registry.workspace import Workspace


@dataclass
class Difference:
    kind: str  # "checkpoint" or "metric"
    what: str  # e.g. "checkpoint at step 200" or "psnr of model on starter/coins at sigma 25"
    expected: object
    actual: object
    within_tolerance: bool
    detail: str = ""

    def describe(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.what}: recorded {self.expected}, re-executed {self.actual}{extra}"


def compare_checkpoints(workspace: Workspace, run: Run, output: dict, workdir: Path) -> list[Difference]:
    tolerance = run.config["audit"]["weight_rtol"]
    replayed = {c["step"]: c for c in output["checkpoints"]}
    differences = []
    for checkpoint in run.checkpoints:
        what = f"checkpoint at step {checkpoint.step}"
        other = replayed.pop(checkpoint.step, None)
        if other is None:
            differences.append(Difference("checkpoint", what, checkpoint.sha256, "missing", False))
        elif other["sha256"] != checkpoint.sha256:
            distance = relative_distance(workspace.resolve(checkpoint.path), workdir / "checkpoints" / other["file"])
            differences.append(
                Difference(
                    "checkpoint",
                    what,
                    checkpoint.sha256,
                    other["sha256"],
                    distance <= tolerance,
                    f"relative L2 distance of weights {distance:.3g}, tolerance {tolerance:g}",
                )
            )
    for step in sorted(replayed):
        differences.append(
            Difference("checkpoint", f"checkpoint at step {step}", "absent", replayed[step]["sha256"], False)
        )
    return differences


def relative_distance(recorded: Path, replayed: Path) -> float:
    """||a - b|| / ||a|| over all tensors; inf when the tensor sets differ."""
    a, b = load_file(str(recorded)), load_file(str(replayed))
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        return float("inf")
    diff = sum(float(np.sum((a[k].astype(np.float64) - b[k].astype(np.float64)) ** 2)) for k in a)
    norm = sum(float(np.sum(a[k].astype(np.float64) ** 2)) for k in a)
    return float(np.sqrt(diff / norm)) if norm else float(np.sqrt(diff))


def compare_metrics(run: Run, output: dict, skip: set[str] = frozenset()) -> list[Difference]:
    """Every (image, sigma, method, metric) value, except the metrics or methods named in `skip`."""
    tolerances = {name[: -len("_atol")]: value for name, value in run.config["audit"].items() if name.endswith("_atol")}
    recorded = {
        (m.image_key, float(m.sigma), m.method, m.metric): m.value
        for m in run.metrics
        if m.metric not in skip and m.method not in skip
    }
    replayed = {
        (m["image"], float(m["sigma"]), m["method"], m["metric"]): m["value"]
        for m in output["metrics"]
        if m["metric"] not in skip and m["method"] not in skip
    }
    differences = []
    for k in sorted(recorded.keys() | replayed.keys()):
        image, sigma, method, metric = k
        what = f"{metric} of {method} on {image} at sigma {sigma:g}"
        expected, actual = recorded.get(k), replayed.get(k)
        if expected is None or actual is None:
            differences.append(
                Difference(
                    "metric",
                    what,
                    expected if expected is not None else "absent",
                    actual if actual is not None else "absent",
                    False,
                )
            )
        elif expected != actual:
            tolerance = tolerances.get(metric, 0.0)
            differences.append(
                Difference(
                    "metric",
                    what,
                    expected,
                    actual,
                    abs(expected - actual) <= tolerance,
                    f"difference {abs(expected - actual):.3g}, tolerance {tolerance:g}",
                )
            )
    return differences
