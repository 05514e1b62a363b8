"""`registry denoise`: run a model on image files, write same-size outputs, sign them.

Inputs may be 8- or 16-bit PNG, JPEG or TIFF, gray or colour (registry.photos reads them
upright, with their alpha and ICC profile; registry.channel_rules says what the model
sees of them); each output goes to OUT/<input stem>.png (or .jpg), 8-bit or 16-bit, with
the input's channels, and is signed with a C2PA manifest unless signing is turned off.
Large photos are denoised in overlapping tiles (denoiser.tiling), so memory follows the
tile, not the photo; every photo's size is checked against a pixel budget before it is
decoded. Every input is checked first: one that cannot be decoded or used as asked, or
whose own C2PA manifest fails verification, stops the batch before any output is
written or any key is created. Inside a workspace every output is recorded
(one transaction for the batch); outside one nothing is recorded.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from denoiser.defaults import BLIND_DEFAULT, DEFAULT_TILE
from denoiser.estimation import ESTIMATORS
from denoiser.tiling import MAX_ATTENTION_TOKENS, attention_tokens, is_local, pass_size
from provenance.anchors import Anchor
from provenance.pixels import pixel_sha256
from provenance.rights import ALLOWED, assertion, explain, summarize
from provenance.signing import SigningError, SignRequest, sign_image
from registry.channel_rules import LUMINANCE, ChannelPlan, denoise_photo, plan_channels
from registry.db import utcnow
from registry.environment import code_version, current_user
from registry.errors import RegistryError
from registry.files import check_target, place, refuse_registry_folders, staging_path
from registry.identity import registry_id
from registry.limits import pixel_budget as configured_budget
from registry.manifests import IMAGE_SUFFIXES, sha256_file
from registry.model_resolution import WithdrawnTraining
from registry.models import Output
from registry.output_facts import InputCheck, check_input, model_facts, training_mining
from registry.photos import Photo, output_problem, read_photo, write_photo
from registry.reporting import Reporter
from registry.run_models import LoadedModel
from registry.signing_keys import ResolvedSigner, credentials_summary
from registry.withdrawals import LISTED
from registry.workspace import Workspace

MAX_SIGMA = 255.0
SUFFIXES = {"png": ".png", "jpeg": ".jpg"}


@dataclass
class DenoiseOptions:
    sigma: float | None = None  # known noise level (8-bit scale); None with blind
    blind: bool = False
    estimator: str = BLIND_DEFAULT
    steps: int = 1
    bits: int = 8
    format: str = "png"
    thumbnail: bool = False  # a C2PA thumbnail in the manifest (off: ~4 KB instead of ~1 MB)
    accept_invalid_input: bool = False  # denoise an input whose own manifest fails verification (recorded)
    luminance: bool = False  # a gray model on colour photos: denoise Y, keep Cb and Cr
    tile: int = DEFAULT_TILE  # core side of the tiles a large photo is denoised in; 0: the whole image at once
    max_pixels: int | None = None  # pixel budget per photo; None: the workspace's max-pixels, else the default
    force: bool = False  # replace existing outputs (never a symbolic link)
    recursive: bool = False  # a folder given as input: its subfolders' images too (mirrored under --out)


@dataclass
class DenoisedFile:
    input: Path
    output: Path
    input_sha256: str
    output_sha256: str
    pixel_sha256: str
    sigma: float
    sigma_estimated: bool
    channels: dict[str, Any] = field(default_factory=dict)  # ChannelPlan.describe()
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
    if options.estimator not in ESTIMATORS:
        raise RegistryError(f"--estimator must be one of {', '.join(ESTIMATORS)}, got {options.estimator!r}")
    if options.tile < 0:
        raise RegistryError(f"--tile must be 0 (whole image) or a tile side in pixels, got {options.tile}")
    if options.max_pixels is not None and options.max_pixels < 1:
        raise RegistryError(f"--max-pixels must be a positive number of pixels, got {options.max_pixels}")


def pixel_budget(options: DenoiseOptions, workspace: Workspace | None) -> int:
    """--max-pixels, else the workspace's `max-pixels` setting, else the default (a 100 MP photo fits)."""
    return options.max_pixels if options.max_pixels is not None else configured_budget(workspace)


def expand_inputs(inputs: list[Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """(image file, subfolder of --out for its output) for each input: a file as given; a
    folder's images in name order, with `recursive` its subfolders' too (the tree mirrored).
    Links inside a folder are skipped: a walk must not wander out of the folder it was given."""
    files: list[tuple[Path, Path]] = []
    for given in map(Path, inputs):
        if given.is_file():
            files.append((given, Path()))
            continue
        if not given.is_dir():
            raise RegistryError(f"input not found: {given}")
        found = sorted(
            path
            for path in (given.rglob("*") if recursive else given.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not _through_link(path, given)
        )
        if not found:
            more = "" if recursive else " (--recursive looks in its subfolders too)"
            raise RegistryError(f"no images in folder {given}{more}")
        files += [(path, path.parent.relative_to(given)) for path in found]
    return files


def _through_link(path: Path, folder: Path) -> bool:
    """Whether `path`, or a folder between it and `folder`, is a symbolic link."""
    return any(step.is_symlink() for step in (path, *path.parents) if step != folder and step.is_relative_to(folder))


def plan_outputs(
    inputs: list[Path],
    out: Path,
    suffix: str = ".png",
    force: bool = False,
    workspace_root: Path | None = None,
    recursive: bool = False,
) -> dict[Path, Path]:
    """input -> output path; refuses missing inputs, shared output names, overwriting an input,
    existing outputs (unless `force`), links at an output's name, and the registry's folders."""
    if out.exists() and not out.is_dir():
        raise RegistryError(f"--out {out} exists and is not a folder")
    refuse_registry_folders(out, workspace_root)
    plan: dict[Path, Path] = {}
    files = expand_inputs(inputs, recursive)
    sources = {path.resolve() for path, _ in files}
    for path, subfolder in files:
        target = out / subfolder / (path.stem + suffix)
        if target in plan.values():
            raise RegistryError(f"two inputs would both be written to {target}")
        if target.resolve() in sources:
            raise RegistryError(f"the output {target} would overwrite an input; choose another --out")
        check_target(target, force)
        plan[Path(path)] = target
    return plan


def denoise_files(
    model: LoadedModel,
    inputs: list[Path],
    out: Path,
    options: DenoiseOptions,
    workspace: Workspace | None = None,
    make_signer: Callable[[], ResolvedSigner] | None = None,
    reporter: Reporter | None = None,
    anchors: Sequence[Anchor] = (),
    withdrawn: WithdrawnTraining | None = None,
) -> list[DenoisedFile]:
    """Denoise, write and (with a signer) sign every input; record the batch in a workspace.

    `make_signer` is called only once every input has passed its checks (no keys are made
    for a batch that is refused); `anchors` are the CAs `verify` would trust, used to check
    each input's own manifest; `withdrawn` is what is known of the model's training data
    having lost its consent (registry.model_resolution.withdrawn_training), signed into
    each output.
    """
    reporter = reporter or Reporter()
    check_options(options)
    root = workspace.root if workspace is not None else None
    plan = plan_outputs(inputs, Path(out), SUFFIXES[options.format], options.force, root, options.recursive)
    with tempfile.TemporaryDirectory(prefix="provenoise-inputs-") as private:
        # One private copy of each input is decoded, hashed, checked and named as the
        # ingredient: a file that changes after its check cannot slip into the signature.
        copies = _snapshot(plan, Path(private))
        budget = pixel_budget(options, workspace)
        channels, digests, checks, largest = {}, {}, {}, 0
        for path, copy in copies.items():  # check everything first: a bad file stops the batch
            # Decoded here to check it, then let go: one photo's pixels are held at a time.
            photo = read_photo(copy, budget, shown=path)
            channels[path] = _check_photo(photo, model, options, path)
            largest = max(largest, *photo.pixels.shape[:2])
            del photo
            digests[path] = sha256_file(copy)
            checks[path] = check_input(copy, list(anchors), workspace, options.accept_invalid_input, shown=path)
            if checks[path].accepted_invalid:
                reporter.warn(f"{path.name}: its own manifest fails verification; accepted and recorded as such")
        low, high = model.config.noise.sigma_min, model.config.noise.sigma_max
        if options.sigma is not None and not low <= options.sigma <= high:
            reporter.warn(f"sigma {options.sigma:g} is outside the range the model was trained on ({low:g}-{high:g})")
        if 0 < options.tile < largest and not is_local(model.config.model):
            reporter.warn(
                "this model uses GroupNorm or attention: photos larger than a tile come out slightly different "
                "from whole-image inference (denoiser/tiling.py); --tile 0 denoises them whole"
            )
        signer = make_signer() if make_signer else None
        facts = _output_facts(workspace, model, withdrawn) if signer else None
        Path(out).mkdir(parents=True, exist_ok=True)
        done: list[DenoisedFile] = []
        try:
            with reporter.progress("denoising" + (" and signing" if signer else ""), len(plan)) as update:
                for index, (path, target) in enumerate(plan.items(), start=1):
                    photo = read_photo(copies[path], budget, shown=path)
                    rule = channels[path]
                    sigma = denoise_photo(
                        model.network, photo, rule, options.sigma, options.estimator, options.steps, options.tile
                    )
                    item = DenoisedFile(path, target, digests[path], "", "", sigma, options.blind)
                    item.channels = rule.describe() | {"photo": photo.describe()}
                    if rule.mode == LUMINANCE and options.sigma is not None:
                        item.channels["sigma_rgb"] = options.sigma  # the model got the noise left in Y
                    item.manifest = _write(item, photo, copies[path], checks[path], facts, options, workspace, signer)
                    del photo
                    item.output_sha256 = sha256_file(target)
                    done.append(item)
                    update(index, path.name)
        finally:
            if workspace is not None and done:  # what was written is recorded, even if a later file failed
                _record(workspace, model, done, options)
    return done


def _check_photo(photo: Photo, model: LoadedModel, options: DenoiseOptions, shown: Path) -> ChannelPlan:
    """The photo's channel plan, refusing what cannot be denoised or written as asked."""
    plan = plan_channels(model.config.model.channels, photo.channels, options.luminance, shown)
    height, width = photo.pixels.shape[:2]
    tokens = attention_tokens(model.config.model, *pass_size(model.config.model, height, width, options.tile))
    if tokens > MAX_ATTENTION_TOKENS:
        raise RegistryError(
            f"{shown}: this model's self-attention would compare {tokens:,} positions at once "
            f"(at most {MAX_ATTENTION_TOKENS:,}); give a smaller --tile"
        )
    problem = output_problem(photo.alpha is not None, options.format)
    if problem:
        raise RegistryError(f"{shown}: {problem}")
    return plan


def _snapshot(plan: dict[Path, Path], folder: Path) -> dict[Path, Path]:
    copies = {}
    for index, path in enumerate(plan):
        copy = folder / str(index) / path.name  # keeps the name: the manifest's ingredient title
        copy.parent.mkdir()
        try:
            shutil.copyfile(path, copy)
        except OSError as exc:
            raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
        copies[path] = copy
    return copies


def _write(
    item: DenoisedFile,
    photo: Photo,
    ingredient: Path,
    input: InputCheck,
    facts: dict[str, Any] | None,
    options: DenoiseOptions,
    workspace: Workspace | None,
    signer: ResolvedSigner | None,
) -> dict | None:
    """Write the output beside its final name and sign it there; only then does it take its
    name (registry.files.place: never over a file without --force, never through a link).

    A signing failure (a time-stamp authority that does not answer...) leaves no file
    under the final name. Returns what the signature says, when signed.
    """
    target = item.output
    target.parent.mkdir(parents=True, exist_ok=True)  # a subfolder mirrored from a --recursive input
    unsigned, signed = staging_path(target), staging_path(target)
    try:
        write_photo(photo.pixels, unsigned, options.bits, options.format, photo.alpha, photo.icc_profile)
        item.pixel_sha256 = pixel_sha256(unsigned)
        if signer is None:
            place(unsigned, target, options.force)
            return None
        manifest = _sign(item, unsigned, signed, ingredient, input, facts, options, workspace, signer)
        place(signed, target, options.force)
        return manifest
    finally:
        unsigned.unlink(missing_ok=True)
        signed.unlink(missing_ok=True)


def _output_facts(
    workspace: Workspace | None, model: LoadedModel, withdrawn: WithdrawnTraining | None = None
) -> dict[str, Any]:
    facts = model_facts(workspace, model)
    if workspace is not None:
        with workspace.store().reader() as session:
            facts["workspace_id"] = registry_id(session)
    else:
        facts["workspace_id"] = None
    if withdrawn is not None:
        if withdrawn.location:  # where a verifier later checks for withdrawals since signing
            facts["withdrawals_location"] = withdrawn.location
        check = withdrawn.list_check
        if check is not None and check.status == LISTED and check.checked is not None:
            # A signed list of the model's own registry names images withdrawn since the folder
            # was exported: the output's training data says so, and its rights follow (notAllowed).
            data = dict(facts.get("training_data") or {})
            recorded = data.get("withdrawn_since_training")
            known = {str(image) for image in recorded} if isinstance(recorded, list) else set()
            data["withdrawn_since_training"] = sorted(known | set(check.images))
            facts["training_data"] = data
            facts["withdrawal_list"] = check.checked.describe()
    return facts


def _sign(
    item: DenoisedFile,
    unsigned: Path,
    signed: Path,
    ingredient: Path,
    input: InputCheck,
    facts: dict[str, Any],
    options: DenoiseOptions,
    workspace: Workspace | None,
    signer: ResolvedSigner,
) -> dict:
    decisions = training_mining(workspace, facts, input)
    restricted = sorted({r.origin for d in decisions.values() for r in d.sources if r.use != ALLOWED})
    version = code_version()["package_version"]
    lineage = facts | {
        "schema": 2,
        "input_sha256": item.input_sha256,
        "input": input.summary(),
        "output_pixel_sha256": item.pixel_sha256,
        "sigma": item.sigma,
        "sigma_estimated": item.sigma_estimated,
        "steps": options.steps,
        "channels": item.channels,
        "training_mining": explain(decisions),
        "training_mining_reason": "restricted by " + ", ".join(restricted) if restricted else "allowed by every source",
    }
    parameters = {"sigma": round(item.sigma, 4), "sigma_estimated": item.sigma_estimated, "steps": options.steps}
    parameters["channels"] = f"{item.channels['input']} -> {item.channels['output']}"
    if item.channels.get("mode") == LUMINANCE:
        parameters["luminance"] = True
    if options.blind:
        parameters["estimator"] = options.estimator
    request = SignRequest(
        source=unsigned,
        dest=item.output,
        write_to=signed,
        ingredient=ingredient,
        software={"name": "provenoise", "version": version},
        parameters=parameters,
        facts=lineage,
        training_mining=assertion(decisions),
        thumbnail=options.thumbnail,
        trust_anchors=input.anchors,
    )
    try:
        manifest_bytes = sign_image(request, signer.signer)
    except SigningError as exc:
        raise RegistryError(str(exc)) from None
    entries = request.training_mining["data"]["entries"]
    return {
        "lineage": lineage,
        "training_mining": summarize(entries),
        "training_mining_entries": entries,
        "signer": credentials_summary(signer.chain_pem),
        "bytes": manifest_bytes,
    }


def write_image(image: np.ndarray, path: Path, bits: int, format: str = "png") -> None:
    """Clip to [0, 1] and save a gray (H, W) image as 8- or 16-bit PNG or 8-bit JPEG (quality 95),
    or a colour (H, W, 3) one as 8-bit RGB (16-bit colour photos go through registry.photos)."""
    if image.ndim == 3 and bits != 8:
        raise ValueError("16-bit colour is written by registry.photos.write_photo")
    scale = 255.0 if bits == 8 else 65535.0
    values = np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * scale)
    if bits == 16:
        Image.fromarray(values.astype(np.uint16)).save(path, format="PNG")
        return
    pixels = Image.fromarray(values.astype(np.uint8), mode="RGB" if image.ndim == 3 else "L")
    if format == "jpeg":
        pixels.save(path, format="JPEG", quality=95)
    else:
        pixels.save(path, format="PNG")


def _record(workspace: Workspace, model: LoadedModel, done: list[DenoisedFile], options: DenoiseOptions) -> None:
    user = current_user(workspace.root)
    with workspace.store().transaction() as session:
        for item in done:
            resolved = item.output.resolve()
            inside = resolved.is_relative_to(workspace.root)
            session.add(
                Output(
                    run_id=model.run_id if model.in_registry else None,
                    model_run_id=None if model.in_registry else model.run_id,
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
