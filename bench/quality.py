"""Denoising quality and speed of a model against BM3D and the published numbers.

Usage, from the checkout (needs `pip install bm3d`; any workspace will do):
    python -m bench.quality --workspace WS [--run RUN | --config configs/reference.yaml] [--export models/reference]

Registers train400, bsd68, set12 and nine from ../shared/datasets when missing, trains the
config (unless --run names a finished run), then evaluates with `registry eval` on BSD68
and Set12 at sigma 15, 25, 50:
- `float`: the published protocol (noise added in float, noisy input not clipped);
- `png8`: the noisy input clipped and rounded to 8 bits, as the PNG files users have;
with BM3D run on the very same noisy images in the same run. Set12 is reported without
image 08 (consent withdrawn) and, with the override recorded, with it, as published.
The DnCNN authors' gray models (--peers, bench/peers.py: DnCNN-S per sigma, DnCNN-B blind,
FDnCNN told sigma; `pip install h5py`) are scored on BSD68 and Set12 on the same noisy
images, redrawn from the run's seed as `registry eval` draws them.
Then times the model, BM3D, non-local means and the peers on a 256x256 and a 512x512 image
(median of 5). The nine classic images of the seed study get the same treatment as Set12
(float protocol, no peers).
Prints the tables and writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from bench.common import SHARED, manifest_images, markdown_table, median_seconds, write_result
from bench.peers import PEERS, gflops_per_megapixel, load_peer, run_peer, score_peers, synthetic_cases
from denoiser import baselines
from denoiser.images import load_gray
from denoiser.inference import denoise
from denoiser.noise import add_awgn
from registry.datasets import add_dataset, list_datasets
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.exporting import export_run
from registry.run_models import load_run_model
from registry.runs import show_run
from registry.tables import EvalView
from registry.tracking import train_run
from registry.workspace import find_workspace

ROOT = Path(__file__).resolve().parent.parent
SIGMAS = [15.0, 25.0, 50.0]
PUBLISHED = {  # PSNR (dB), from ../shared/datasets/README.md
    "BM3D (2007)": {"set12": (32.37, 29.97, 26.72), "bsd68": (31.07, 28.57, 25.62)},
    "DnCNN-S (2017)": {"set12": (32.86, 30.44, 27.18), "bsd68": (31.73, 29.23, 26.23)},
    "FFDNet (2018)": {"set12": (32.75, 30.43, 27.32), "bsd68": (31.63, 29.19, 26.29)},
    "DRUNet (2021)": {"set12": (33.25, 30.94, 27.90), "bsd68": (31.91, 29.48, 26.59)},
}
WITHDRAWN_REASON = "published Set12 numbers include image 08; included only to compare with them"
GRAY_PEERS = ("DnCNN-S", "DnCNN-B", "FDnCNN")
PEER_VIEWS = {("bsd68", "float"), ("bsd68", "png8"), ("set12", "float")}


def ensure_datasets(workspace) -> None:
    have = {d.name for d in list_datasets(workspace)}
    for name in ("train400", "bsd68", "set12", "nine"):
        if name not in have:
            print(f"registering {name} from {SHARED / name}", flush=True)
            add_dataset(workspace, SHARED / name, name)


def evaluate(workspace, run_id, dataset, protocol, methods, include_withdrawn=False) -> EvalView:
    request = EvalRequest(
        [dataset],
        {"sigmas": SIGMAS, "baselines": methods, "protocol": protocol},
        include_withdrawn=include_withdrawn,
        reason=WITHDRAWN_REASON if include_withdrawn else "",
    )
    started = time.perf_counter()
    (evaluation,) = show_evaluations(workspace, evaluate_run(workspace, run_id, request))
    print(
        f"  {dataset} {protocol}{' +08' if include_withdrawn else ''}: {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return EvalView.of_evaluation(evaluation)


def peer_rows(dataset: str, protocol: str, seed: int, names: tuple[str, ...]) -> dict:
    """peer -> (PSNRs, SSIMs) at SIGMAS on the noisy images the run's `registry eval` drew."""
    clean = manifest_images(SHARED, dataset, 1)
    started = time.perf_counter()
    scores = score_peers(names, synthetic_cases(clean, SIGMAS, seed, protocol))
    print(f"  {dataset} {protocol} peers: {time.perf_counter() - started:.0f} s", flush=True)
    return {
        name: ([scores[(s, name)][0] for s in SIGMAS], [scores[(s, name)][1] for s in SIGMAS])
        for name in names
        if all((s, name) in scores for s in SIGMAS)
    }


def speed(network, peers: tuple[str, ...]) -> dict:
    """Median of 5 timings of the model, NLM, BM3D and peers at sigma 25 on a 256x256 and a 512x512 image."""
    images = {"256x256": load_gray(SHARED / "set12" / "01.png"), "512x512": load_gray(SHARED / "set12" / "12.png")}
    methods = {"model": lambda noisy: denoise(network, noisy, 25.0)}
    for name in ("nlm", "bm3d"):
        if name != "bm3d" or baselines.bm3d_available():
            methods[name] = partial(baselines.build_baseline(name, [], [25.0], 0), sigma=25.0)
    for name in peers:
        if (peer := load_peer(PEERS[name], 25.0)) is not None:
            methods[name] = partial(run_peer, peer, sigma=25.0)
    result = {}
    for size, clean in images.items():
        noisy = add_awgn(clean, 25.0, np.random.default_rng(0))
        for name, method in methods.items():
            result[f"{name}@{size}"] = median_seconds(partial(method, noisy), 5, warm_up=True) * 1000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run to evaluate instead of training one")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "reference.yaml")
    parser.add_argument("--export", type=Path, help="export the model to this folder afterwards")
    parser.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: found from the cwd)")
    parser.add_argument(
        "--peers",
        default=",".join(GRAY_PEERS),
        help=f"comma list of the DnCNN peers to score and time (default: {','.join(GRAY_PEERS)}; empty: none)",
    )
    args = parser.parse_args()
    peers = tuple(name.strip() for name in args.peers.split(",") if name.strip())
    if unknown := set(peers) - set(GRAY_PEERS):
        parser.error(f"--peers: unknown {', '.join(sorted(unknown))} (known: {', '.join(GRAY_PEERS)})")
    torch.set_num_threads(2)

    workspace = find_workspace(args.workspace)
    ensure_datasets(workspace)
    run_id = args.run or train_run(workspace, args.config)
    run = show_run(workspace, run_id)
    print(f"run {run.id}: trained in {run.train_seconds / 60:.1f} min", flush=True)
    if not baselines.bm3d_available():
        print("warning: bm3d is not installed (pip install bm3d); BM3D columns will be empty", flush=True)

    everything = ["gaussian", "wavelet", "tv", "nlm", "bm3d"]
    views = {
        ("bsd68", "float"): evaluate(workspace, run_id, "bsd68", "float", everything),
        ("bsd68", "png8"): evaluate(workspace, run_id, "bsd68", "png8", ["bm3d"]),
        ("set12", "float"): evaluate(workspace, run_id, "set12", "float", everything),
        ("set12+08", "float"): evaluate(workspace, run_id, "set12", "float", ["bm3d"], include_withdrawn=True),
        ("set12", "png8"): evaluate(workspace, run_id, "set12", "png8", ["bm3d"]),
        ("nine", "float"): evaluate(workspace, run_id, "nine", "float", everything),
    }
    config, network, _ = load_run_model(workspace, run)
    peer_results = {key: peer_rows(*key, config.train.seed, peers) for key in views if key in PEER_VIEWS}
    timings = speed(network, peers)
    gflops = {"model": run.cost["gflops_per_megapixel"]}
    gflops |= {name: gflops_per_megapixel(peer, 1) for name in peers if (peer := load_peer(PEERS[name], 25.0))}

    rows, results = [], {}
    for (dataset, protocol), view in views.items():
        for method in ("model", "bm3d", "nlm", "tv", "wavelet", "gaussian", "noisy"):
            if method not in view.methods:
                continue
            psnrs = [view.mean(s, method, "psnr") for s in SIGMAS]
            ssims = [view.mean(s, method, "ssim") for s in SIGMAS]
            results[f"{dataset}/{protocol}/{method}"] = {"psnr": psnrs, "ssim": ssims, "images": len(view.images)}
            rows.append([dataset, protocol, method, *psnrs, *ssims])
        for name, (psnrs, ssims) in peer_results.get((dataset, protocol), {}).items():
            results[f"{dataset}/{protocol}/{name}"] = {"psnr": psnrs, "ssim": ssims, "images": len(view.images)}
            rows.append([dataset, protocol, name, *psnrs, *ssims])
    published = [[name, "", "published", *v["set12"], "", "", ""] for name, v in PUBLISHED.items()]
    published += [[name, "", "published BSD68", *v["bsd68"], "", "", ""] for name, v in PUBLISHED.items()]

    print("\nPSNR (dB) and SSIM, same noisy images for every method of a row group")
    print(
        markdown_table(
            ["dataset", "protocol", "method", "PSNR 15", "PSNR 25", "PSNR 50", "SSIM 15", "SSIM 25", "SSIM 50"], rows
        )
    )
    print("\nPublished (README of shared/datasets; Set12 includes 08)")
    print(markdown_table(["method", "", "set", "15", "25", "50", "", "", ""], published))
    threads = torch.get_num_threads()
    print(f"\nInference time, median of 5, ms ({threads} torch threads; BM3D and NLM as their packages run)")
    print(markdown_table(["method @ size", "ms"], [[k, v] for k, v in timings.items()]))
    print(f"\nmodel: {run.cost['parameters']} parameters")
    print(markdown_table(["network", "GFLOPs per megapixel"], [[k, v] for k, v in gflops.items()]))

    summary = {
        "run": run.id,
        "train_minutes": run.train_seconds / 60,
        "config": run.config,
        "results": results,
        "published": PUBLISHED,
        "timing_ms": timings,
        "threads": torch.get_num_threads(),
        "cost": run.cost,
        "gflops_per_megapixel": gflops,
        "evaluations": {f"{d}/{p}": v.dataset for (d, p), v in views.items()},
    }
    print(f"\nwrote {write_result('quality', summary)}")
    if args.export:
        print(f"exported to {export_run(workspace, run.id, args.export, force=True)}")


if __name__ == "__main__":
    main()
