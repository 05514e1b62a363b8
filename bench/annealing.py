"""Quality and latency of the K-step annealed mode as K grows.

Usage, from the checkout: python -m bench.annealing RUN --workspace WS [--dataset set12] [--sigma 25] [--steps 1,2,3,4]
Each K is a recorded `registry eval --steps K` of the run on the dataset (consent
exclusions apply). Reports mean PSNR, SSIM, LPIPS (when its weights are present) and
median time per image; writes bench/results/annealing.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import markdown_table, write_result
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.tables import EvalView
from registry.workspace import find_workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--dataset", default="set12")
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--steps", default="1,2,3,4")
    parser.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: found from the cwd)")
    args = parser.parse_args()
    workspace = find_workspace(args.workspace)

    rows, results = [], {}
    for steps in [int(k) for k in args.steps.split(",")]:
        request = EvalRequest([args.dataset], {"sigmas": [args.sigma], "baselines": [], "steps": steps})
        (evaluation,) = show_evaluations(workspace, evaluate_run(workspace, args.run, request))
        view = EvalView.of_evaluation(evaluation)
        lpips = "n/a" if "lpips" in view.unavailable else view.mean(args.sigma, "model", "lpips")
        times = sorted(view.model_ms())
        median_ms = times[len(times) // 2]
        results[steps] = {
            "psnr": view.mean(args.sigma, "model", "psnr"),
            "ssim": view.mean(args.sigma, "model", "ssim"),
            "lpips": lpips,
            "median_ms": median_ms,
            "evaluation": evaluation.id,
            "lpips_unavailable": view.unavailable.get("lpips"),
        }
        rows.append([steps, results[steps]["psnr"], f"{results[steps]['ssim']:.4f}", lpips, median_ms])
    print(f"K-step annealed denoising, {args.dataset} at sigma {args.sigma:g}")
    print(markdown_table(["K", "PSNR", "SSIM", "LPIPS", "median ms / image"], rows))
    summary = {"run": args.run, "dataset": args.dataset, "sigma": args.sigma, "by_steps": results}
    print(f"\nwrote {write_result('annealing', summary)}")


if __name__ == "__main__":
    main()
