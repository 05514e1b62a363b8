"""`registry denoise`: run a model on image files and write same-size PNG outputs.

Inputs may be 8- or 16-bit PNG, JPEG or TIFF (colour is used as its luminance); each
output goes to OUT/<input stem>.png, 8-bit or 16-bit. Inside a workspace every output is
recorded (one transaction for the batch); outside one nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from denoiser.images import ImageError, load_gray
from denoiser.inference import denoise, estimate_sigma
from registry.db import utcnow
from registry.environment import current_user
from registry.errors import RegistryError
from registry.manifests import sha256_file
from registry.models import Output
from registry.reporting import Reporter
from registry.run_models import LoadedModel
from registry.workspace import Workspace

MAX_SIGMA = 255.0


@dataclass
class DenoiseOptions:
    sigma: float | None = None  # known noise level (8-bit scale); None with blind
    blind: bool = False
    estimator: str = "pca"
    steps: int = 1
    bits: int = 8


@dataclass
class DenoisedFile:
    input: Path
    output: Path
    input_sha256: str
    output_sha256: str
    sigma: float
    sigma_estimated: bool


def check_options(options: DenoiseOptions) -> None:
    if options.blind == (options.sigma is not None):
        raise RegistryError("give either --sigma S or --blind")
    if options.sigma is not None and not 0 < options.sigma <= MAX_SIGMA:
        raise RegistryError(f"--sigma must be in (0, {MAX_SIGMA:g}], got {options.sigma:g}")
    if options.bits not in (8, 16):
        raise RegistryError(f"--bits must be 8 or 16, got {options.bits}")
    if not 1 <= options.steps <= 16:
        raise RegistryError(f"--steps must be between 1 and 16, got {options.steps}")
    if options.estimator not in ("pca", "mad"):
        raise RegistryError(f"--estimator must be pca or mad, got {options.estimator!r}")


def plan_outputs(inputs: list[Path], out: Path) -> dict[Path, Path]:
    """input -> output path, refusing missing inputs and two inputs with one output name."""
    plan: dict[Path, Path] = {}
    for path in inputs:
        if not Path(path).is_file():
            raise RegistryError(f"input not found: {path}")
        target = out / (Path(path).stem + ".png")
        if target in plan.values():
            raise RegistryError(f"two inputs would both be written to {target}")
        plan[Path(path)] = target
    return plan


def denoise_files(
    model: LoadedModel,
    inputs: list[Path],
    out: Path,
    options: DenoiseOptions,
    workspace: Workspace | None = None,
    reporter: Reporter | None = None,
) -> list[DenoisedFile]:
    reporter = reporter or Reporter()
    check_options(options)
    plan = plan_outputs(inputs, Path(out))
    images = {}
    for path in plan:  # decode everything first: a bad file stops the batch before any output
        try:
            images[path] = load_gray(path)
        except ImageError as exc:
            raise RegistryError(str(exc)) from None
    low, high = model.config.noise.sigma_min, model.config.noise.sigma_max
    if options.sigma is not None and not low <= options.sigma <= high:
        reporter.warn(f"sigma {options.sigma:g} is outside the range the model was trained on ({low:g}-{high:g})")
    Path(out).mkdir(parents=True, exist_ok=True)
    done = []
    with reporter.progress("denoising", len(plan)) as update:
        for index, (path, target) in enumerate(plan.items(), start=1):
            noisy = images[path]
            sigma = estimate_sigma(noisy, options.estimator) if options.blind else options.sigma
            clean = denoise(model.network, noisy, sigma, options.steps)
            write_png(clean, target, options.bits)
            done.append(DenoisedFile(path, target, sha256_file(path), sha256_file(target), sigma, options.blind))
            update(index, path.name)
    if workspace is not None:
        _record(workspace, model, done, options)
    return done


def write_png(image: np.ndarray, path: Path, bits: int) -> None:
    """Clip to [0, 1] and save as an 8- or 16-bit grayscale PNG."""
    scale = 255.0 if bits == 8 else 65535.0
    values = np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * scale)
    if bits == 8:
        Image.fromarray(values.astype(np.uint8), mode="L").save(path, format="PNG")
    else:
        Image.fromarray(values.astype(np.uint16)).save(path, format="PNG")


def _record(workspace: Workspace, model: LoadedModel, done: list[DenoisedFile], options: DenoiseOptions) -> None:
    user = current_user(workspace.root)
    with workspace.store().transaction() as session:
        for item in done:
            resolved = item.output.resolve()
            inside = resolved.is_relative_to(workspace.root)
            session.add(
                Output(
                    run_id=model.run_id,
                    model_sha256=model.weights_sha256,
                    input_name=item.input.name,
                    input_sha256=item.input_sha256,
                    output_path=workspace.relative(resolved) if inside else str(resolved),
                    output_sha256=item.output_sha256,
                    sigma=item.sigma,
                    sigma_estimated=item.sigma_estimated,
                    estimator=options.estimator if options.blind else None,
                    steps=options.steps,
                    bits=options.bits,
                    signed=False,
                    manifest=None,
                    user=user,
                    created_at=utcnow(),
                )
            )
