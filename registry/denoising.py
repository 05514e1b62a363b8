"""`registry denoise`: run a model on image files, write same-size outputs, sign them.

Inputs may be 8- or 16-bit PNG, JPEG or TIFF (colour is used as its luminance); each
output goes to OUT/<input stem>.png (or .jpg), 8-bit or 16-bit, and is signed with a
C2PA manifest unless signing is turned off. Inside a workspace every output is recorded
(one transaction for the batch); outside one nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from denoiser.images import ImageError, load_gray
from denoiser.inference import denoise
from denoiser.inference import estimate_sigma as estimate
from provenance.pixels import pixel_sha256
from provenance.signing import SigningError, SignRequest, sign_image
from registry.db import utcnow
from registry.environment import code_version, current_user
from registry.errors import RegistryError
from registry.manifests import sha256_file
from registry.models import Output
from registry.output_facts import model_facts, training_mining
from registry.reporting import Reporter
from registry.run_models import LoadedModel
from registry.signing_keys import ResolvedSigner, credentials_summary
from registry.workspace import Workspace

MAX_SIGMA = 255.0
SUFFIXES = {"png": ".png", "jpeg": ".jpg"}


@dataclass
class DenoiseOptions:
    sigma: float | None = None  # known noise level (8-bit scale); None with blind
    blind: bool = False
    estimator: str = "pca"
    steps: int = 1
    bits: int = 8
    format: str = "png"
    thumbnail: bool = False  # a C2PA thumbnail in the manifest (off: ~4 KB instead of ~1 MB)


@dataclass
class DenoisedFile:
    input: Path
    output: Path
    input_sha256: str
    output_sha256: str
    pixel_sha256: str
    sigma: float
    sigma_estimated: bool
    manifest: dict[str, Any] | None = field(default=None)  # what the signature says, when signed


def check_options(options: DenoiseOptions) -> None:
    if options.blind == (options.sigma is not None):
        raise RegistryError("give either --sigma S or --blind")
    if options.sigma is not None and not 0 < options.sigma <= MAX_SIGMA:
        raise RegistryError(f"--sigma must be in (0, {MAX_SIGMA:g}], got {options.sigma:g}")
    if options.bits not in (8, 16):
        raise RegistryError(f"--bits must be 8 or 16, got {options.bits}")
    if options.format not in SUFFIXES:
        raise RegistryError(f"--format must be png or jpeg, got {options.format!r}")
    if options.format == "jpeg" and options.bits != 8:
        raise RegistryError("JPEG outputs are 8-bit; use --format png for --bits 16")
    if not 1 <= options.steps <= 16:
        raise RegistryError(f"--steps must be between 1 and 16, got {options.steps}")
    if options.estimator not in ("pca", "mad"):
        raise RegistryError(f"--estimator must be pca or mad, got {options.estimator!r}")


def plan_outputs(inputs: list[Path], out: Path, suffix: str = ".png") -> dict[Path, Path]:
    """input -> output path; refuses missing inputs, shared output names, and overwriting an input."""
    if out.exists() and not out.is_dir():
        raise RegistryError(f"--out {out} exists and is not a folder")
    plan: dict[Path, Path] = {}
    sources = {Path(path).resolve() for path in inputs}
    for path in inputs:
        if not Path(path).is_file():
            raise RegistryError(f"input not found: {path}")
        target = out / (Path(path).stem + suffix)
        if target in plan.values():
            raise RegistryError(f"two inputs would both be written to {target}")
        if target.resolve() in sources:
            raise RegistryError(f"the output {target} would overwrite an input; choose another --out")
        plan[Path(path)] = target
    return plan


def denoise_files(
    model: LoadedModel,
    inputs: list[Path],
    out: Path,
    options: DenoiseOptions,
    workspace: Workspace | None = None,
    signer: ResolvedSigner | None = None,
    reporter: Reporter | None = None,
) -> list[DenoisedFile]:
    """Denoise, write and (with a signer) sign every input; record the batch in a workspace."""
    reporter = reporter or Reporter()
    check_options(options)
    plan = plan_outputs(inputs, Path(out), SUFFIXES[options.format])
    images, digests = {}, {}
    for path in plan:  # decode everything first: a bad file stops the batch before any output
        try:
            images[path] = load_gray(path)
        except ImageError as exc:
            raise RegistryError(str(exc)) from None
        digests[path] = sha256_file(path)
    low, high = model.config.noise.sigma_min, model.config.noise.sigma_max
    if options.sigma is not None and not low <= options.sigma <= high:
        reporter.warn(f"sigma {options.sigma:g} is outside the range the model was trained on ({low:g}-{high:g})")
    facts = model_facts(workspace, model) if signer else None
    Path(out).mkdir(parents=True, exist_ok=True)
    done = []
    with reporter.progress("denoising" + (" and signing" if signer else ""), len(plan)) as update:
        for index, (path, target) in enumerate(plan.items(), start=1):
            noisy = images[path]
            sigma = estimate(noisy, options.estimator) if options.blind else options.sigma
            write_image(denoise(model.network, noisy, sigma, options.steps), target, options.bits, options.format)
            item = DenoisedFile(path, target, digests[path], "", pixel_sha256(target), sigma, options.blind)
            if signer is not None:
                item.manifest = _sign(item, model, facts, options, workspace, signer)
            item.output_sha256 = sha256_file(target)
            done.append(item)
            update(index, path.name)
    if workspace is not None:
        _record(workspace, model, done, options)
    return done


def _sign(item: DenoisedFile, model, facts, options: DenoiseOptions, workspace, signer: ResolvedSigner) -> dict:
    use, why = training_mining(workspace, facts, item.input)
    version = code_version()["package_version"]
    lineage = facts | {
        "schema": 1,
        "input_sha256": item.input_sha256,
        "output_pixel_sha256": item.pixel_sha256,
        "sigma": item.sigma,
        "sigma_estimated": item.sigma_estimated,
        "steps": options.steps,
        "training_mining_reason": why,
    }
    parameters = {"sigma": round(item.sigma, 4), "sigma_estimated": item.sigma_estimated, "steps": options.steps}
    if options.blind:
        parameters["estimator"] = options.estimator
    request = SignRequest(
        source=item.output,
        dest=item.output,
        ingredient=item.input,
        software={"name": "provenoise", "version": version},
        parameters=parameters,
        facts=lineage,
        training_mining=use,
        thumbnail=options.thumbnail,
    )
    try:
        manifest_bytes = sign_image(request, signer.signer)
    except SigningError as exc:
        raise RegistryError(str(exc)) from None
    return {
        "lineage": lineage,
        "training_mining": use,
        "signer": credentials_summary(signer.chain_pem),
        "bytes": manifest_bytes,
    }


def write_image(image: np.ndarray, path: Path, bits: int, format: str = "png") -> None:
    """Clip to [0, 1] and save as 8- or 16-bit grayscale PNG, or 8-bit JPEG (quality 95)."""
    scale = 255.0 if bits == 8 else 65535.0
    values = np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * scale)
    if bits == 16:
        Image.fromarray(values.astype(np.uint16)).save(path, format="PNG")
    elif format == "jpeg":
        Image.fromarray(values.astype(np.uint8), mode="L").save(path, format="JPEG", quality=95)
    else:
        Image.fromarray(values.astype(np.uint8), mode="L").save(path, format="PNG")


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
                    pixel_sha256=item.pixel_sha256,
                    sigma=item.sigma,
                    sigma_estimated=item.sigma_estimated,
                    estimator=options.estimator if options.blind else None,
                    steps=options.steps,
                    bits=options.bits,
                    signed=item.manifest is not None,
                    manifest=item.manifest,
                    user=user,
                    created_at=utcnow(),
                )
            )
