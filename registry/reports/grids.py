"""Image grids recomputed at report time from the recorded model and images.

For the best and the worst test image (by the model's recorded PSNR at the table's
sigma): clean, noisy, denoised and the absolute error, plus, for the worst, crops of the
region where the error is largest. Colour runs get colour grids; the error map is gray (the
largest channel's error). The noisy image is drawn exactly as the evaluation
drew it, so the recomputed PSNR must equal the recorded one; the report says whether it does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from denoiser.evaluation import noisy_input
from denoiser.inference import denoise
from denoiser.metrics import psnr, quantize
from registry.artifacts import load_verified_image
from registry.models import Run
from registry.run_models import load_run_model
from registry.runs import split_files
from registry.workspace import Workspace

CROP = 64


@dataclass
class Grid:
    image: str
    role: str  # "best" or "worst"
    sigma: float
    recorded_psnr: float
    recomputed_psnr: float
    png: bytes  # clean | noisy | denoised | error
    crops_png: bytes | None = None  # the worst region, enlarged


def _to_png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _error_map(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """(H, W): |error| scaled so that 0.1 (about 25 levels) is white; colour: the largest channel's."""
    error = np.abs(quantize(estimate) - clean)
    return np.clip((error.max(axis=2) if error.ndim == 3 else error) / 0.1, 0, 1)


def _like(error: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The gray error map as the image's layout, to sit beside it in one row."""
    return np.repeat(error[..., None], image.shape[2], axis=2) if image.ndim == 3 else error


def _enlarged(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of a gray or colour image."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _worst_region(error: np.ndarray, size: int) -> tuple[int, int]:
    size = min(size, *error.shape)
    best, corner = -1.0, (0, 0)
    for top in range(0, error.shape[0] - size + 1, max(1, size // 2)):
        for left in range(0, error.shape[1] - size + 1, max(1, size // 2)):
            total = float(error[top : top + size, left : left + size].sum())
            if total > best:
                best, corner = total, (top, left)
    return corner


def image_grids(workspace: Workspace, run: Run, sigma: float) -> list[Grid]:
    scores = {
        m.image_key: m.value for m in run.metrics if m.method == "model" and m.metric == "psnr" and m.sigma == sigma
    }
    if not scores:
        return []
    config, model, _ = load_run_model(workspace, run)
    files = {key: (path, sha) for key, path, sha in split_files(run)["test"]}
    picks = [("best", max(scores, key=scores.get)), ("worst", min(scores, key=scores.get))]
    grids = []
    for role, key in picks if len(scores) > 1 else picks[:1]:
        clean = load_verified_image(workspace, key, *files[key], config.model.channels)
        noisy = noisy_input(clean, key, sigma, config.train.seed, config.eval.protocol)
        estimate = denoise(model, noisy, sigma, config.eval.steps)
        error = _error_map(clean, estimate)
        row = np.concatenate([clean, np.clip(noisy, 0, 1), np.clip(estimate, 0, 1), _like(error, clean)], axis=1)
        grid = Grid(key, role, sigma, scores[key], psnr(clean, estimate), _to_png(row))
        if role == "worst":
            top, left = _worst_region(error, CROP)
            window = (slice(top, top + CROP), slice(left, left + CROP))
            crops = np.concatenate(
                [
                    clean[window],
                    np.clip(noisy[window], 0, 1),
                    np.clip(estimate[window], 0, 1),
                    _like(error, clean)[window],
                ],
                axis=1,
            )
            grid.crops_png = _to_png(_enlarged(crops, 3))
        grids.append(grid)
    return grids
