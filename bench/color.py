"""Colour benchmark: a colour run against CBM3D, NLM and the DnCNN authors' colour models.

Usage, from the checkout (needs `pip install bm3d h5py`):
    python -m bench.color --workspace WS --run RUN [--model models/reference-color] [--cbm3d-all]
    python -m bench.color --model models/reference-color [--cbm3d-all] [--sets kodak24,mcmaster]

With --run (any workspace holding the run): registers cbsd68, kodak24, mcmaster and cc15
from ../shared/datasets when missing and evaluates the run through `registry eval`, each
evaluation recorded in the registry. With only --model (an exported folder, signature
checked as `registry denoise` checks it): the same evaluation code (denoiser.evaluation)
on the same noisy images, drawn from the seed the folder's run.json records, nothing
recorded. Either way:
- CBSD68 at sigma 15, 25, 50 with the float protocol (CBM3D at 15 and 50 only with
  --cbm3d-all: else the published figures), and at sigma 25 with 8-bit clipped noisy
  PNGs (png8);
- Kodak24 and McMaster at sigma 25 (float);
- CC15's real noisy shots, blind (every method told the sigma estimated from the shot),
  and told sigma 5, 10 and 15 in turn (CBM3D there only with --cbm3d-all).
CBM3D and NLM run inside those evaluations, on the very noisy images the model gets
(CBM3D outputs cached by noisy-image hash in bench/results/bm3d-cache/: see
bench/bm3d_cache.py). The DnCNN authors' colour models (CDnCNN-S per sigma, CDnCNN-B
blind, colour FFDNet-style FDnCNN told sigma; bench/peers.py) are scored on the same
noisy images, redrawn from the run's seed exactly as `registry eval` draws them.
Then times the model, CBM3D, NLM and the peers on a 512x512 colour image (median of 5,
torch threads stated) and, with --model (an exported folder of the run), `registry denoise`
on a 6000x4000 colour photo (tiled) and on a 512x512 crop whole vs tiled (bench/photos.py).
Prints the tables and writes bench/results/color.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from bench import bm3d_cache
from bench.common import SHARED, manifest_images, markdown_table, median_seconds, write_result
from bench.peers import PEERS, gflops_per_megapixel, load_peer, run_peer, score_peers, synthetic_cases
from denoiser import baselines
from denoiser.evaluation import evaluate, evaluate_real, noisy_input
from denoiser.inference import denoise
from denoiser.noise import REAL_NOISE
from registry.datasets import add_dataset, list_datasets
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.run_models import load_run_model
from registry.runs import show_run
from registry.tables import EvalView
from registry.workspace import find_workspace

COLOUR_SETS = ("cbsd68", "kodak24", "mcmaster", "cc15")
# (name in the tables, dataset, protocol, sigmas; None: real noise, blind)
CONDITIONS = [
    ("CBSD68", "cbsd68", "float", [25.0]),
    ("CBSD68", "cbsd68", "float", [15.0, 50.0]),  # CBM3D here only with --cbm3d-all
    ("CBSD68 png8", "cbsd68", "png8", [25.0]),
    ("Kodak24", "kodak24", "float", [25.0]),
    ("McMaster", "mcmaster", "float", [25.0]),
    ("CC15 real", "cc15", "float", None),
    ("CC15 real", "cc15", "float", [5.0, 10.0, 15.0]),  # the shots, every method told these sigmas
]
PAIRED = ("cc15",)  # scored on their real noisy files, never with synthetic noise
PEER_NAMES = ("CDnCNN-S", "CDnCNN-B", "FDnCNN-colour")
PUBLISHED_SETS = ("CBSD68", "Kodak24", "McMaster")
PUBLISHED = {  # PSNR (dB) at sigma 15 / 25 / 50 on each of PUBLISHED_SETS, from ../shared/datasets/README.md
    "CBM3D (2007)": ((33.52, 30.71, 27.38), (34.28, 31.68, 28.46), (34.06, 31.66, 28.51)),
    "CDnCNN-B (2017)": ((33.90, 31.24, 27.95), (34.60, 32.14, 28.95), (33.45, 31.52, 28.62)),
    "FFDNet (2018)": ((33.87, 31.21, 27.96), (34.63, 32.13, 28.98), (34.66, 32.35, 29.18)),
    "DRUNet (2021)": ((34.30, 31.69, 28.51), (35.31, 32.89, 29.86), (35.40, 33.14, 30.08)),
}
METHODS = ("model", "bm3d", "nlm", "noisy")


def ensure_datasets(workspace) -> None:
    have = {d.name for d in list_datasets(workspace)}
    for name in COLOUR_SETS:
        if name not in have:
            print(f"registering {name} from {SHARED / name}", flush=True)
            add_dataset(workspace, SHARED / name, name)


def _overrides(protocol: str, sigmas: list[float] | None, with_bm3d: bool) -> dict:
    overrides: dict = {"baselines": ["bm3d", "nlm"] if with_bm3d else ["nlm"], "protocol": protocol}
    if sigmas is not None:
        overrides["sigmas"] = sigmas
    return overrides


def registry_evaluation(
    workspace, run_id: str, dataset: str, protocol: str, sigmas: list[float] | None, with_bm3d: bool = True
):
    started = time.perf_counter()
    request = EvalRequest([dataset], _overrides(protocol, sigmas, with_bm3d))
    (evaluation,) = show_evaluations(workspace, evaluate_run(workspace, run_id, request))
    print(f"  {dataset} {protocol}: evaluation {evaluation.id}, {time.perf_counter() - started:.0f} s", flush=True)
    return evaluation


@dataclass
class Scored:
    """One condition's scores, from a registry evaluation or from a model folder."""

    view: EvalView
    sigma_used: dict
    source: str  # "evaluation N" or "model folder"


class RunScorer:
    """Evaluations of a run through `registry eval`, recorded in its workspace."""

    def __init__(self, workspace, run) -> None:
        self.workspace, self.run = workspace, run

    def score(self, dataset: str, protocol: str, sigmas: list[float] | None, with_bm3d: bool) -> Scored:
        evaluation = registry_evaluation(self.workspace, self.run.id, dataset, protocol, sigmas, with_bm3d)
        sigma_used = evaluation.details.get("sigma_used", {})
        return Scored(EvalView.of_evaluation(evaluation), sigma_used, f"evaluation {evaluation.id}")


class FolderScorer:
    """An exported model folder scored by denoiser.evaluation on the images of ../shared/datasets."""

    def __init__(self, loaded) -> None:
        self.loaded = loaded

    def score(self, dataset: str, protocol: str, sigmas: list[float] | None, with_bm3d: bool) -> Scored:
        from denoiser.config import config_from_dict

        config = self.loaded.config
        record = self.loaded.record["config"]
        options = config_from_dict(record | {"eval": record["eval"] | _overrides(protocol, sigmas, with_bm3d)}).eval
        clean = manifest_images(SHARED, dataset, 3)
        started = time.perf_counter()
        if dataset in PAIRED:  # blind when sigmas is None, as `registry eval` on a paired set
            shots = _noisy_files(dataset)
            pairs = {key: (image, shots[key]) for key, image in clean.items()}
            result = evaluate_real(self.loaded.network, options, config.train.seed, pairs, [], sigmas)
        else:
            result = evaluate(self.loaded.network, options, config.train.seed, clean, [])
        print(f"  {dataset} {protocol}: {time.perf_counter() - started:.0f} s", flush=True)
        values = {(row.image, row.sigma, row.method, row.metric): row.value for row in result.rows}
        view = EvalView(dataset, values, unavailable=result.unavailable, real_noise=dataset in PAIRED)
        return Scored(view, result.sigma_used, "model folder")


def peer_scores(dataset: str, protocol: str, sigmas: list[float] | None, seed: int, sigma_used: dict) -> dict:
    """(sigma, peer) -> (mean PSNR, mean SSIM) on the noisy images `registry eval` drew."""
    clean = manifest_images(SHARED, dataset, 3)
    if dataset in PAIRED:  # real noise: the shots themselves, every peer told the run's estimate or each sigma
        shots = _noisy_files(dataset)
        if sigmas is None:
            cases = {REAL_NOISE: {key: (clean[key], shots[key], sigma_used[key]["real"]) for key in clean}}
        else:
            cases = {sigma: {key: (clean[key], shots[key], sigma) for key in clean} for sigma in sigmas}
    else:
        cases = synthetic_cases(clean, sigmas, seed, protocol)
    return score_peers(PEER_NAMES, cases)


def _sigma_label(view: EvalView, sigma: float) -> str:
    if not view.real_noise:
        return f"{sigma:g}"
    return "real, blind" if sigma == REAL_NOISE else f"real, told {sigma:g}"


def _noisy_files(dataset: str) -> dict[str, np.ndarray]:
    import csv

    from denoiser.images import load_image

    with open(SHARED / dataset / "MANIFEST.csv", newline="") as manifest:
        return {
            f"{dataset}/{row['image_id']}": load_image(SHARED / dataset / row["noisy_file"], 3)
            for row in csv.DictReader(manifest)
            if row["consent"] != "withdrawn"
        }


def speed(network) -> dict[str, float]:
    """Median of 5 (after one warm-up) on a 512x512 colour image at sigma 25, ms."""
    images = manifest_images(SHARED, "cc15", 3)
    clean = images[sorted(images)[0]]
    noisy = noisy_input(clean, "speed", 25.0, 0, "float")
    methods = {"model": lambda image: denoise(network, image, 25.0)}
    with bm3d_cache.bypassed():  # a cached CBM3D would be timed as a file read
        for name in ("nlm", "bm3d"):
            if name != "bm3d" or baselines.bm3d_available():
                methods[name] = partial(baselines.build_baseline(name, [], [25.0], 0), sigma=25.0)
    for name in PEER_NAMES:
        peer = load_peer(PEERS[name], 25.0)
        if peer is not None:
            methods[name] = partial(run_peer, peer, sigma=25.0)
    return {name: 1000 * median_seconds(partial(method, noisy), 5, warm_up=True) for name, method in methods.items()}


def photos(model: Path) -> dict:
    """`registry denoise` with the exported colour model on a 6000x4000 photo, and tiling on 512x512."""
    from PIL import Image

    from bench.photos import SIGMA, make_photo, run_denoise
    from denoiser.defaults import DEFAULT_TILE
    from denoiser.tiling import denoise_tiled
    from registry.model_folders import open_model_folder

    result = {}
    with tempfile.TemporaryDirectory(prefix="bench-color-") as folder:
        photo = make_photo(Path(folder))
        result["large"] = run_denoise(str(model), photo, Path(folder) / "out", DEFAULT_TILE, luminance=False)
        crop = np.asarray(Image.open(photo).crop((2000, 1500, 2512, 2012)).convert("RGB"), dtype=np.float32) / 255
    network = open_model_folder(model, [], allow_unverified=True).network
    for tile in (0, 256):
        result[f"crop_512_tile_{tile}_s"] = median_seconds(
            lambda t=tile: denoise_tiled(network, crop, SIGMA, tile=t), 5, warm_up=True
        )
    whole, tiled = (denoise_tiled(network, crop, SIGMA, tile=t) for t in (0, 256))
    result["crop_512_max_abs_difference"] = float(np.abs(whole - tiled).max())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished 3-channel run, evaluated through `registry eval`")
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--model", type=Path, help="the run's exported folder (alone: evaluated as a folder)")
    parser.add_argument(
        "--cbm3d-all",
        action="store_true",
        help="CBM3D on CBSD68 at sigma 15 and 50 too (another 136 images at 7-10 s each; else published figures)",
    )
    parser.add_argument(
        "--sets",
        default=",".join(COLOUR_SETS),
        help=f"comma list of the sets to score (default: {','.join(COLOUR_SETS)})",
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.sets.split(",") if name.strip()]
    if unknown := set(chosen) - set(COLOUR_SETS):
        parser.error(f"--sets: unknown {', '.join(sorted(unknown))} (known: {', '.join(COLOUR_SETS)})")
    if not (args.run or args.model):
        parser.error("give --run (with its workspace) or --model (an exported model folder)")
    torch.set_num_threads(2)
    if not baselines.bm3d_available():
        raise SystemExit("bm3d is not installed (pip install bm3d): CBM3D is the reference this benchmark needs")
    cache = bm3d_cache.install()

    if args.run:
        workspace = find_workspace(args.workspace)
        ensure_datasets(workspace)
        run = show_run(workspace, args.run)
        config, network, _ = load_run_model(workspace, run)
        scorer = RunScorer(workspace, run)
        facts = {"run": run.id, "train_seconds": run.train_seconds, "cost": run.cost}
    else:
        from registry.model_folders import open_model_folder
        from registry.trust_store import model_anchors

        loaded = open_model_folder(args.model, model_anchors())
        config, network = loaded.config, loaded.network
        scorer = FolderScorer(loaded)
        record = json.loads((args.model / "run.json").read_text())
        facts = {"run": record["id"], "train_seconds": record["train_seconds"], "cost": record["cost"]}
    if config.model.channels != 3:
        raise SystemExit(f"run {facts['run']} is not a colour (3-channel) run")
    seed = config.train.seed

    rows, results = [], {}
    for label, dataset, protocol, sigmas in [c for c in CONDITIONS if c[1] in chosen]:
        with_bm3d = args.cbm3d_all or sigmas is None or 25.0 in sigmas
        scored = scorer.score(dataset, protocol, sigmas, with_bm3d)
        view = scored.view
        peers = peer_scores(dataset, protocol, sigmas, seed, scored.sigma_used)
        for sigma in view.sigmas:
            shown = _sigma_label(view, sigma)
            for method in METHODS:
                if method in view.methods:
                    score = (view.mean(sigma, method, "psnr"), view.mean(sigma, method, "ssim"))
                    rows.append([label, shown, method, *score])
                    results[f"{label}/{shown}/{method}"] = {"psnr": score[0], "ssim": score[1], "source": scored.source}
            for name in PEER_NAMES:
                if (sigma, name) in peers:
                    rows.append([label, shown, name, *peers[(sigma, name)]])
                    results[f"{label}/{shown}/{name}"] = dict(zip(("psnr", "ssim"), peers[(sigma, name)]))

    gflops = {"model": facts["cost"]["gflops_per_megapixel"]}
    for name in PEER_NAMES:
        peer = load_peer(PEERS[name], 25.0)
        if peer is not None:
            gflops[name] = gflops_per_megapixel(peer, 3)
    timings = speed(network)
    threads = torch.get_num_threads()
    print("\nPSNR (dB) and SSIM; every method of a set on the same noisy images")
    print(markdown_table(["set", "sigma", "method", "PSNR", "SSIM"], rows))
    print("\nPublished PSNR at sigma 15 / 25 / 50 (../shared/datasets/README.md)")
    print(
        markdown_table(
            ["method", *PUBLISHED_SETS],
            [[name, *(" / ".join(f"{v:.2f}" for v in row) for row in rows)] for name, rows in PUBLISHED.items()],
        )
    )
    print(f"\n512x512 colour, sigma 25, median of 5, ms ({threads} torch threads; CBM3D and NLM as their packages run)")
    print(markdown_table(["method", "ms", "GFLOPs/MP"], [[k, v, gflops.get(k, "")] for k, v in timings.items()]))
    summary = {
        "run": facts["run"],
        "evaluated_as": "registry eval" if args.run else f"model folder {args.model}",
        "sets": chosen,
        "train_minutes": facts["train_seconds"] / 60,
        "parameters": facts["cost"]["parameters"],
        "results": results,
        "published": {name: dict(zip(PUBLISHED_SETS, rows)) for name, rows in PUBLISHED.items()},
        "timing_ms_512": timings,
        "gflops_per_megapixel": gflops,
        "threads": threads,
        "bm3d_cache": cache,
    }
    if args.model:
        summary["photos"] = photos(args.model)
        large = summary["photos"]["large"]
        print(
            f"\nregistry denoise, 6000x4000 colour photo, tiled: {large['seconds']:.1f} s, "
            f"{large['peak_mb']:.0f} MB peak"
        )
        print(
            "512x512 crop: whole {crop_512_tile_0_s:.2f} s, 256-px tiles {crop_512_tile_256_s:.2f} s, "
            "max abs difference {crop_512_max_abs_difference:.1e}".format(**summary["photos"])
        )
    print(f"\nwrote {write_result('color', summary)}")


if __name__ == "__main__":
    main()
