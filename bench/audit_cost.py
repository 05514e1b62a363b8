"""Quickstart training time against audit time, median over repeats.

Usage, from the checkout: python -m bench.audit_cost [--repeats 3] [--config configs/quickstart.yaml]

Each repeat trains the config in a fresh temporary workspace and audits the run; the
audit re-executes training and evaluation, so their ratio is the price of proof. Also
prints the run's mean test PSNR/SSIM at sigma 25 for the model, the noisy input and the
Gaussian-filter baseline. Prints a table and writes bench/results/audit_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from audits.audit import audit_run
from registry.runs import show_run
from registry.starter import ensure_starter
from registry.tracking import train_run
from registry.workspace import init_workspace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    args = parser.parse_args()

    rows = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            workspace, _ = init_workspace(Path(folder) / "ws")
            ensure_starter(workspace)
            started = time.perf_counter()
            run_id = train_run(workspace, args.config)
            command_seconds = time.perf_counter() - started
            audit = audit_run(workspace, run_id)
            run = show_run(workspace, run_id)
            at25 = {(a.method, a.metric): (a.mean, a.std) for a in run.aggregates if a.sigma == 25}
            rows.append(
                {
                    "repeat": repeat,
                    "train_seconds": run.train_seconds,
                    "eval_seconds": run.eval_seconds,
                    "train_command_seconds": command_seconds,
                    "audit_seconds": audit.seconds,
                    "verdict": audit.verdict,
                    "final_checkpoint": run.checkpoints[-1].sha256,
                    "sigma25": {f"{m}/{k}": v for (m, k), v in at25.items()},
                }
            )
            print(
                f"repeat {repeat}: train {run.train_seconds:.1f} s (command {command_seconds:.1f} s), "
                f"audit {audit.seconds:.1f} s, {audit.verdict}",
                flush=True,
            )

    median = {
        k: statistics.median(r[k] for r in rows) for k in ("train_seconds", "train_command_seconds", "audit_seconds")
    }
    summary = {
        "config": str(args.config),
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "median": median,
        "audit_over_train_command": median["audit_seconds"] / median["train_command_seconds"],
        "same_final_checkpoint_every_repeat": len({r["final_checkpoint"] for r in rows}) == 1,
        "rows": rows,
    }
    print()
    print(f"| measure (median of {args.repeats}) | seconds |")
    print("|---|---|")
    print(f"| training loop | {median['train_seconds']:.1f} |")
    print(f"| `registry train` as a whole (record, train, evaluate) | {median['train_command_seconds']:.1f} |")
    print(f"| `registry audit` (integrity, re-execution, comparison) | {median['audit_seconds']:.1f} |")
    print(f"| ratio audit / train command | {summary['audit_over_train_command']:.2f} |")
    print()
    print("| method at sigma 25 (test split) | PSNR mean ± std | SSIM mean ± std |")
    print("|---|---|---|")
    for method in ("noisy", "gaussian", "model"):
        psnr, ssim = rows[0]["sigma25"][f"{method}/psnr"], rows[0]["sigma25"][f"{method}/ssim"]
        print(f"| {method} | {psnr[0]:.2f} ± {psnr[1]:.2f} | {ssim[0]:.4f} ± {ssim[1]:.4f} |")
    out = ROOT / "bench" / "results" / "audit_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
