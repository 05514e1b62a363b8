"""Exported gray model folders side by side on a gray test set, with DnCNN-S, on the same noisy images.

Usage, from the checkout (needs `pip install h5py` for DnCNN-S):
    python -m bench.folders OLD_FOLDER models/reference [--images N] [--dataset set12]
        [--include-withdrawn]

Each folder is scored by denoiser.evaluation (the code `registry eval` runs) at sigma 15, 25
and 50 with the float and png8 protocols, on the noisy images `registry eval` draws for the
folder's recorded seed; DnCNN-S (its authors' sigma 25 model, bench/peers.py) on those of
seed 0 at sigma 25. Nothing is recorded. Prints a table and writes bench/results/folders-DATASET[-with-withdrawn].json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.common import SHARED, manifest_images, markdown_table, write_result
from bench.peers import score_peers, synthetic_cases
from denoiser.config import config_from_dict
from denoiser.evaluation import evaluate
from registry.model_folders import open_model_folder
from registry.trust_store import model_anchors

SIGMAS = [15.0, 25.0, 50.0]
PROTOCOLS = ("float", "png8")


def score_folder(folder: Path, clean: dict) -> dict:
    """protocol -> (PSNRs, SSIMs) at SIGMAS of the folder's model."""
    loaded = open_model_folder(folder, model_anchors())
    record = loaded.record["config"]
    scores = {}
    for protocol in PROTOCOLS:
        overrides = {"baselines": [], "protocol": protocol, "sigmas": SIGMAS}
        options = config_from_dict(record | {"eval": record["eval"] | overrides}).eval
        values = {}
        for row in evaluate(loaded.network, options, loaded.config.train.seed, clean, []).rows:
            if row.method == "model":
                values.setdefault((row.sigma, row.metric), []).append(row.value)
        scores[protocol] = tuple([float(np.mean(values[(s, m)])) for s in SIGMAS] for m in ("psnr", "ssim"))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="exported gray model folders")
    parser.add_argument("--images", type=int, default=0, help="only the first N images (default: all)")
    parser.add_argument("--dataset", default="bsd68", choices=["bsd68", "set12", "nine"], help="gray test set")
    parser.add_argument("--include-withdrawn", action="store_true", help="also images whose consent is withdrawn")
    args = parser.parse_args()
    torch.set_num_threads(2)
    clean = manifest_images(SHARED, args.dataset, 1, args.include_withdrawn)
    if args.images:
        clean = {key: clean[key] for key in sorted(clean)[: args.images]}

    rows, results = [], {}
    for folder in args.folders:
        for protocol, (psnrs, ssims) in score_folder(folder, clean).items():
            results[f"{folder}/{protocol}"] = {"psnr": psnrs, "ssim": ssims}
            rows.append([str(folder), protocol, *psnrs, *ssims])
    for protocol in PROTOCOLS:
        scores = score_peers(("DnCNN-S",), synthetic_cases(clean, [25.0], 0, protocol))
        if (25.0, "DnCNN-S") in scores:
            psnr, ssim = scores[(25.0, "DnCNN-S")]
            results[f"DnCNN-S/{protocol}"] = {"sigma": 25.0, "psnr": psnr, "ssim": ssim}
            rows.append(["DnCNN-S", protocol, "", psnr, "", "", ssim, ""])
    withdrawn, suffix = (", withdrawn included", "-with-withdrawn") if args.include_withdrawn else ("", "")
    print(f"{args.dataset} ({len(clean)} images{withdrawn}), PSNR dB and SSIM, same noisy images")
    headers = ["model", "protocol", "PSNR 15", "PSNR 25", "PSNR 50", "SSIM 15", "SSIM 25", "SSIM 50"]
    print(markdown_table(headers, rows))
    print(f"\nwrote {write_result(f'folders-{args.dataset}{suffix}', {'images': len(clean), 'results': results})}")


if __name__ == "__main__":
    main()
