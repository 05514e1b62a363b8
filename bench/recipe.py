"""Training-recipe search: variants of one config trained side by side and scored alike.

Each variant is the base config plus `key=value` overrides (as `registry train --set`).
Every variant trains with the same seed, split, crops and noise draws, then is scored on
the first --images images of --test at --sigma (float protocol, the very noisy images
`registry eval` draws), so the PSNR differences are the recipe's and not the noise's.
Needs only `denoiser` and the datasets in ../shared/datasets (or --data).

    python -m bench.recipe --config configs/reference-color.yaml --steps 1500 \\
        --variant fp32= --variant bf16=train.precision=bf16 \\
        --variant bf16+ema=train.precision=bf16,train.ema=0.999

Prints a table (PSNR, SSIM, seconds per step, training minutes) and writes
bench/results/recipe-NAME.json (--name, default the config's name).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import SHARED, manifest_images, markdown_table, write_result
from denoiser.config import EvalConfig, load_config
from denoiser.evaluation import aggregate, evaluate
from denoiser.splits import make_split
from denoiser.training import TrainingHooks, train

ROOT = Path(__file__).resolve().parent.parent


class Progress(TrainingHooks):
    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[float] = []
        self.val: list[tuple[int, float]] = []

    def on_step(self, step: int, total: int, loss: float) -> None:
        self.times.append(time.perf_counter())
        if step % 500 == 0:
            print(f"  {self.name}: step {step}/{total}, loss {loss:.4f}", flush=True)

    def on_checkpoint(self, checkpoint) -> None:
        self.val += [(p.step, p.value) for p in checkpoint.losses if p.split == "val"]


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    return name, [item for item in overrides.split(",") if item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument(
        "--variant", action="append", required=True, help="NAME=key=value,key=value (NAME= alone: the base)"
    )
    parser.add_argument("--steps", type=int, help="train.steps of every variant (a variant may override it)")
    parser.add_argument("--test", default="cbsd68")
    parser.add_argument("--images", type=int, default=12, help="first N test images (sorted by key)")
    parser.add_argument("--sigma", type=float, action="append", help="test sigma (repeatable; default 25)")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--name", help="results file: bench/results/recipe-NAME.json")
    args = parser.parse_args()
    sigmas = args.sigma or [25.0]
    common = [f"train.steps={args.steps}"] if args.steps else []

    base = load_config(args.config, common)
    channels = base.model.channels
    pool = {}
    for dataset in base.data.datasets:
        pool |= manifest_images(args.data, dataset, channels)
    split = make_split(list(pool), base.data.split, base.data.split_seed)
    train_images = [pool[key] for key in split["train"]]
    val_images = [pool[key] for key in split["val"]]
    test_all = manifest_images(args.data, args.test, channels)
    test = {key: test_all[key] for key in sorted(test_all)[: args.images]}
    print(f"{len(train_images)} training, {len(val_images)} validation, {len(test)} test images", flush=True)

    results, rows = {}, []
    for text in args.variant:
        name, overrides = parse_variant(text)
        config = load_config(args.config, common + overrides)
        hooks = Progress(name)
        started = time.perf_counter()
        model = train(config, train_images, val_images, hooks, device=args.device)
        minutes = (time.perf_counter() - started) / 60
        per_step = statistics.median(np.diff(hooks.times)) if len(hooks.times) > 2 else float("nan")
        options = EvalConfig(sigmas=sigmas, baselines=[], protocol="float")
        scores = aggregate(evaluate(model.to("cpu"), options, config.train.seed, test, val_images).rows)
        mean = {(a["sigma"], a["method"], a["metric"]): a["mean"] for a in scores}
        psnrs = [mean[(s, "model", "psnr")] for s in sigmas]
        ssims = [mean[(s, "model", "ssim")] for s in sigmas]
        results[name] = {
            "overrides": overrides,
            "steps": config.train.steps,
            "seconds_per_step": per_step,
            "train_minutes": minutes,
            "psnr": psnrs,
            "ssim": ssims,
            "val_loss": hooks.val,
            "config": config.to_dict(),
        }
        rows.append([name, " ".join(overrides) or "(base)", config.train.steps, *psnrs, *ssims, per_step, minutes])
        print(f"{name}: PSNR {' / '.join(f'{p:.2f}' for p in psnrs)} in {minutes:.1f} min", flush=True)

    headers = ["variant", "overrides", "steps"]
    headers += [f"PSNR {s:g}" for s in sigmas] + [f"SSIM {s:g}" for s in sigmas] + ["s/step", "train min"]
    print(f"\n{args.test}, first {len(test)} images, float protocol, {torch.get_num_threads()} threads")
    print(markdown_table(headers, rows))
    summary = {
        "config": str(args.config),
        "test": args.test,
        "images": sorted(test),
        "sigmas": sigmas,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "variants": results,
    }
    print(f"wrote {write_result(f'recipe-{args.name or base.name}', summary)}")


if __name__ == "__main__":
    main()
