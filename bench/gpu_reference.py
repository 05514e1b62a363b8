"""The reference config family trained longer on a GPU, evaluated like bench.quality.

For a session that is lent a GPU machine, which has PyTorch but no registry database or
DVC: this script needs only the `denoiser` package and a folder holding copies of the
benchmark datasets (train400, bsd68, set12 with their MANIFEST.csv). It

1. times a short probe run to choose how many steps fit in --train-seconds;
2. trains configs/reference.yaml with those steps (and --batch-size) on the GPU, with
   the same split, patches and noise draws as the CPU run;
3. evaluates the result, and the committed CPU reference model as a cross-check, on
   BSD68 and Set12 at sigma 15, 25, 50 with the float and png8 protocols, on the same
   noisy images `registry eval` draws (stream(seed, "eval", key, sigma));
4. times inference per 256x256 and 512x512 image (median of 5, synchronised).

Writes OUT/gpu_reference.json and OUT/model.safetensors (the final weights).
Usage: python -m bench.gpu_reference --data DATASETS --out OUT [--train-seconds 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import manifest_images
from denoiser.checkpoints import weights_from_bytes
from denoiser.config import EvalConfig, ExperimentConfig, config_from_dict, load_config
from denoiser.evaluation import aggregate, evaluate
from denoiser.networks import build_network
from denoiser.splits import make_split
from denoiser.training import Checkpoint, TrainingHooks, train

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "reference.yaml"
CPU_REFERENCE = ROOT / "models" / "reference"  # the committed export folder
SIGMAS = [15.0, 25.0, 50.0]


def load_dataset(folder: Path, name: str, include_withdrawn: bool = False) -> dict[str, np.ndarray]:
    """Gray images keyed as the registry keys them, withdrawn consent left out."""
    return manifest_images(folder, name, 1, include_withdrawn)


class StepTimer(TrainingHooks):
    """Step wall times; keeps the latest weights on disk so a cut-off run leaves a model."""

    def __init__(self, weights_path: Path | None = None) -> None:
        self.times: list[float] = []
        self.weights_path = weights_path
        self.losses: list[dict] = []

    def on_step(self, step: int, total: int, loss: float) -> None:
        self.times.append(time.perf_counter())
        if step % 1000 == 0:
            print(f"step {step}/{total} loss {loss:.4f}", flush=True)

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.losses += [{"step": p.step, "split": p.split, "value": p.value} for p in checkpoint.losses]
        if self.weights_path is not None:
            self.weights_path.write_bytes(checkpoint.weights)


def seconds_per_step(config: ExperimentConfig, train_images, val_images, device: str, steps: int) -> float:
    probe = load_config(CONFIG, [f"train.batch_size={config.train.batch_size}", f"train.steps={steps}"])
    timer = StepTimer()
    train(probe, train_images, val_images, timer, device=device)
    return statistics.median(np.diff(timer.times[steps // 5 :]))


def evaluate_model(model, seed: int, datasets: dict[str, dict[str, np.ndarray]], val_images) -> dict:
    results = {}
    for protocol in ("float", "png8"):
        options = EvalConfig(sigmas=SIGMAS, baselines=[], protocol=protocol)
        for name, images in datasets.items():
            rows = evaluate(model, options, seed, images, val_images).rows
            results[f"{name}/{protocol}"] = [a for a in aggregate(rows) if a["metric"] in ("psnr", "ssim")]
    return results


@torch.no_grad()
def inference_ms(model, device: str) -> dict[str, float]:
    synchronize = torch.cuda.synchronize if device == "cuda" else lambda: None
    timings = {}
    for size in (256, 512):
        x = torch.rand(1, 1, size, size, device=device).contiguous(memory_format=torch.channels_last)
        sigma = torch.tensor([25.0], device=device)
        times = []
        for index in range(6):
            synchronize()
            started = time.perf_counter()
            model(x, sigma)
            synchronize()
            if index:
                times.append(time.perf_counter() - started)
        timings[f"{size}x{size}"] = 1000 * statistics.median(times)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train400, bsd68, set12")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-seconds", type=float, default=300.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=60000)
    parser.add_argument("--probe-steps", type=int, default=120)
    parser.add_argument("--device", default="cuda", help="cpu only to try the script out")
    args = parser.parse_args()
    device = args.device
    missing = [n for n in ("train400", "bsd68", "set12") if not (args.data / n / "MANIFEST.csv").is_file()]
    if missing:
        raise SystemExit(f"{args.data} lacks {', '.join(missing)} (copy them from ../shared/datasets)")
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; --device cpu only tries the script out")
    args.out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    result: dict = {"device": name, "torch": torch.__version__}

    train_keys = load_dataset(args.data, "train400")
    base = load_config(CONFIG, [f"train.batch_size={args.batch_size}"])
    split = make_split(list(train_keys), base.data.split, base.data.split_seed)
    train_images = [train_keys[k] for k in split["train"]]
    val_images = [train_keys[k] for k in split["val"]]

    per_step = seconds_per_step(base, train_images, val_images, device, args.probe_steps)
    # Whole 500s, so the cosine schedule and checkpoints land on round steps.
    steps = min(args.max_steps, max(500, int(args.train_seconds / per_step) // 500 * 500))
    config = load_config(CONFIG, [f"train.batch_size={args.batch_size}", f"train.steps={steps}"])
    result |= {"seconds_per_step_probe": per_step, "config": config.to_dict()}
    print(f"{per_step * 1000:.1f} ms/step on {result['device']}: training {steps} steps", flush=True)

    timer = StepTimer(args.out / "model.safetensors")
    started = time.perf_counter()
    model = train(config, train_images, val_images, timer, device=device)
    result |= {"train_seconds": time.perf_counter() - started, "losses": timer.losses}
    print(f"trained in {result['train_seconds']:.0f} s", flush=True)

    datasets = {
        "bsd68": load_dataset(args.data, "bsd68"),
        "set12": load_dataset(args.data, "set12"),
        "set12+08": load_dataset(args.data, "set12", include_withdrawn=True),
    }
    result["gpu_model"] = evaluate_model(model, config.train.seed, datasets, val_images)
    result["gpu_model_inference_ms"] = inference_ms(model, device)
    (args.out / "gpu_reference.json").write_text(json.dumps(result, indent=2))  # kept if cut off below

    cpu_config = config_from_dict(json.loads((CPU_REFERENCE / "provenoise-model.json").read_text())["config"])
    cpu_reference = build_network(cpu_config.model)
    weights_from_bytes(cpu_reference, (CPU_REFERENCE / "model.safetensors").read_bytes())
    cpu_reference = cpu_reference.to(device=device, memory_format=torch.channels_last).eval()
    result["cpu_reference_on_gpu"] = evaluate_model(cpu_reference, cpu_config.train.seed, datasets, val_images)
    (args.out / "gpu_reference.json").write_text(json.dumps(result, indent=2))
    for model_name in ("gpu_model", "cpu_reference_on_gpu"):
        for table, rows in result[model_name].items():
            psnr = [f"{r['mean']:.2f}" for r in rows if r["method"] == "model" and r["metric"] == "psnr"]
            print(model_name, table, "PSNR at sigma 15/25/50:", "/".join(psnr))


if __name__ == "__main__":
    main()
