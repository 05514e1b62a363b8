"""`registry noise`: make a noisy copy of an image, seeded, as an 8-bit PNG (what users have).

A colour image gets a colour copy (AWGN drawn independently per channel); a gray one a gray copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoiser.images import GRAY_MODES, ImageError, inspect_image, load_image
from denoiser.noise import add_awgn, add_poisson_gaussian, jpeg_compress
from registry.denoising import expand_inputs, write_image
from registry.errors import RegistryError
from registry.files import check_target, place, refuse_registry_folders, staging_path

KINDS = ("awgn", "poisson-gaussian", "jpeg")


def make_noisy_files(
    inputs: list[Path],
    out: Path,
    kind: str = "awgn",
    level: float = 25.0,
    seed: int = 0,
    force: bool = False,
    workspace_root: Path | None = None,
    recursive: bool = False,
) -> list[Path]:
    """Noisy copies of files and folders' images (the tree mirrored under `out` with `recursive`),
    every name checked before the first is written."""
    files = expand_inputs(inputs, recursive)
    targets = [Path(out) / subfolder / (path.stem + ".png") for path, subfolder in files]
    if len(set(targets)) < len(targets):
        raise RegistryError("two inputs would both be written to the same name; give them separately")
    for (path, _), target in zip(files, targets):
        _check_output(path, target, force, workspace_root)
    return [
        make_noisy(path, target.parent, kind, level, seed, force, workspace_root)
        for (path, _), target in zip(files, targets)
    ]


def _check_output(source: Path, target: Path, force: bool, workspace_root: Path | None) -> None:
    if target.parent.exists() and not target.parent.is_dir():
        raise RegistryError(f"--out {target.parent} exists and is not a folder")
    refuse_registry_folders(target.parent, workspace_root)
    if target.resolve() == Path(source).resolve():
        raise RegistryError(f"the noisy copy would overwrite {source}; choose another --out")
    check_target(target, force)


def make_noisy(
    source: Path,
    out: Path,
    kind: str = "awgn",
    level: float = 25.0,
    seed: int = 0,
    force: bool = False,
    workspace_root: Path | None = None,
) -> Path:
    """Write OUT/<stem>.png: AWGN at sigma `level`, Poisson-Gaussian at `level` photons, or JPEG at quality `level`.

    Written like every output (registry.files): never over a file without `force`, never
    through a link, never into the workspace's data/ or .registry/."""
    if kind not in KINDS:
        raise RegistryError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "awgn" and not 0 < level <= 255:
        raise RegistryError(f"--level (sigma) must be in (0, 255], got {level:g}")
    if kind == "jpeg" and not 1 <= level <= 95:
        raise RegistryError(f"--level (JPEG quality) must be in [1, 95], got {level:g}")
    if kind == "poisson-gaussian" and level <= 0:
        raise RegistryError(f"--level (photons at white) must be positive, got {level:g}")
    target = Path(out) / (Path(source).stem + ".png")
    _check_output(source, target, force, workspace_root)
    try:
        clean = load_image(source, 1 if inspect_image(source).mode in GRAY_MODES else 3)
    except ImageError as exc:
        raise RegistryError(str(exc)) from None
    rng = np.random.default_rng(seed)
    if kind == "awgn":
        noisy = add_awgn(clean, level, rng)
    elif kind == "poisson-gaussian":
        noisy = add_poisson_gaussian(clean, level, 2.0, rng)
    else:
        noisy = jpeg_compress(clean, int(level))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target)
    try:
        write_image(noisy, staging, 8)
        return place(staging, target, force)
    finally:
        staging.unlink(missing_ok=True)
