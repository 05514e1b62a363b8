"""Reading a dataset folder into validated image entries, before anything is written.

A manifest is a CSV with a `file` column (relative to the dataset folder) and optional
`image_id, sha256, license, consent, source, attribution, notes, noisy_file` columns (the layout of
the benchmark manifests in shared/datasets). Without one, every image file directly in
the folder is an entry. Every entry is decoded in full, hashed, and checked against the
manifest's sha256 when it gives one. A `noisy_file` pairs the clean image with a real
noisy shot of the same scene (a paired dataset such as cc15): it must be an image of
the same size, gray or colour like its clean file, and is hashed and copied with it.

A dataset holds each picture once: the same file under two rows, or two files with
identical decoded pixels, is refused, since consent given or withdrawn for one row
would silently disagree with the other (see registry.consent).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from denoiser.images import GRAY_MODES, ImageError, ImageInfo, inspect_image
from provenance.pixels import pixel_sha256
from registry.errors import RegistryError
from registry.text import has_hidden_characters
from registry.vocabulary import CONSENT_STATUSES
from registry.workspace import inside

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm"}
MANIFEST_NAME = "MANIFEST.csv"
UNKNOWN_LICENSE = "NOASSERTION"  # SPDX's word for "no licence information"


@dataclass
class NoisyEntry:
    """The real noisy shot paired with a clean image."""

    file: str  # POSIX path relative to the dataset folder
    source_path: Path
    sha256: str
    bytes: int
    info: ImageInfo


@dataclass
class ImageEntry:
    image_id: str
    file: str  # POSIX path relative to the dataset folder
    source_path: Path
    sha256: str
    content_sha256: str  # of the decoded pixels: what the picture is, whatever its encoding
    bytes: int
    info: ImageInfo
    license: str
    consent: str
    source: str
    attribution: str
    notes: str
    noisy: NoisyEntry | None = None  # paired datasets only


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_entries(
    folder: Path,
    manifest: Path | None,
    default_license: str | None,
    default_source: str | None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[ImageEntry]:
    if not folder.is_dir():
        raise RegistryError(f"dataset folder not found: {folder}")
    rows = _manifest_rows(manifest) if manifest else _folder_rows(folder)
    if not rows:
        raise RegistryError(f"no images to register in {manifest or folder}")
    entries, seen = [], set()
    for number, row in enumerate(rows, start=1):
        entry = _entry(folder, row, number, manifest, default_license, default_source)
        if entry.image_id in seen:
            raise RegistryError(f"{manifest or folder}: image_id {entry.image_id!r} appears twice")
        seen.add(entry.image_id)
        entries.append(entry)
        progress(number, len(rows))
    if manifest:  # a folder's own listing names each file once
        _refuse_copies(entries, manifest)
    return entries


def _refuse_copies(entries: list[ImageEntry], manifest: Path) -> None:
    """One file listed twice (under two ids) is refused: it would be one picture counted twice.

    Two files showing the same pixels are accepted and linked like any copy (registry.consent):
    a dataset may hold identical frames, and consent still reaches both.
    """
    by_file: dict[str, int] = {}
    for index, entry in enumerate(entries):
        first = by_file.setdefault(entry.file, index)
        if first != index:
            raise RegistryError(
                f"{manifest}: {_row(entries, first)} and {_row(entries, index)} "
                f"list the same file {entry.file!r}; register each file once"
            )


def _row(entries: list[ImageEntry], index: int) -> str:
    entry = entries[index]
    return f"row {index + 1} (image_id {entry.image_id!r}, file {entry.file!r})"


def _manifest_rows(manifest: Path) -> list[dict[str, str]]:
    try:
        with open(manifest, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                raise RegistryError(f"manifest {manifest} needs a 'file' column")
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RegistryError(f"cannot read manifest {manifest}: {exc}") from None


def _folder_rows(folder: Path) -> list[dict[str, str]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [{"file": p.name} for p in files]


def _entry(folder, row, number, manifest, default_license, default_source) -> ImageEntry:
    where = f"{manifest} row {number}" if manifest else str(folder)
    file = row.get("file", "")
    if not file:
        raise RegistryError(f"{where}: empty 'file'")
    # Hidden characters could make one id print as another, or rewrite the terminal.
    for column in ("image_id", "file", "noisy_file"):
        if has_hidden_characters(row.get(column, "")):
            raise RegistryError(f"{where}: {column} {row[column]!r} holds control or format characters")
    try:
        path = inside(folder, file)
    except RegistryError:
        raise RegistryError(f"{where}: path {file!r} leaves the dataset folder") from None
    try:
        info = inspect_image(path)
    except ImageError as exc:
        raise RegistryError(f"{where}: {exc}") from None
    try:
        content = pixel_sha256(path)
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{where}: cannot decode {file!r}: {exc}") from None
    digest = sha256_file(path)
    expected = row.get("sha256", "").lower()
    if expected and expected != digest:
        raise RegistryError(f"{where}: {file} has sha256 {digest}, manifest says {expected}")
    consent = row.get("consent", "").lower() or "unknown"
    if consent not in CONSENT_STATUSES:
        raise RegistryError(f"{where}: consent {consent!r} is not one of {', '.join(CONSENT_STATUSES)}")
    return ImageEntry(
        image_id=row.get("image_id") or Path(file).stem,
        file=path.relative_to(folder.resolve()).as_posix(),
        source_path=path,
        sha256=digest,
        content_sha256=content,
        bytes=path.stat().st_size,
        info=info,
        license=row.get("license") or default_license or UNKNOWN_LICENSE,
        consent=consent,
        source=row.get("source") or default_source or "",
        attribution=row.get("attribution", ""),
        notes=row.get("notes", ""),
        noisy=_noisy_entry(folder, row.get("noisy_file", ""), where, file, info),
    )


def _noisy_entry(folder: Path, file: str, where: str, clean_file: str, clean: ImageInfo) -> NoisyEntry | None:
    """The paired noisy file of a row, checked against its clean file; None when the row has none."""
    if not file:
        return None
    try:
        path = inside(folder, file)
    except RegistryError:
        raise RegistryError(f"{where}: noisy_file {file!r} leaves the dataset folder") from None
    if not path.is_file():
        raise RegistryError(f"{where}: noisy_file {file!r} not found")
    try:
        info = inspect_image(path)
    except ImageError as exc:
        raise RegistryError(f"{where}: noisy_file {exc}") from None
    if (info.width, info.height) != (clean.width, clean.height):
        raise RegistryError(
            f"{where}: noisy_file {file!r} is {info.width}x{info.height}, "
            f"its clean file {clean_file!r} is {clean.width}x{clean.height}"
        )
    if (info.mode in GRAY_MODES) != (clean.mode in GRAY_MODES):
        raise RegistryError(f"{where}: noisy_file {file!r} is mode {info.mode}, its clean file is mode {clean.mode}")
    return NoisyEntry(path.relative_to(folder.resolve()).as_posix(), path, sha256_file(path), path.stat().st_size, info)


def content_hash(entries: list[ImageEntry]) -> str:
    """A dataset's own version: sha256 over its sorted (image_id, sha256[, noisy sha256]) rows.

    The noisy file's hash joins only when there is one, so unpaired datasets keep their version.
    """
    lines = sorted(f"{e.image_id}\0{e.sha256}{chr(0) + e.noisy.sha256 if e.noisy else ''}\n" for e in entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()
