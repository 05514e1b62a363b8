"""Registering datasets: copy into data/NAME, re-add data/ to DVC, record every image.

All checks run before anything is written. The copy goes through a staging folder and
is renamed into place; if DVC or the database then fails, the folder is removed and
data.dvc restored, so a failed `data add` leaves the workspace as it was.

Every image is recorded with the hash of its decoded pixels, which links it to copies of
the same picture in other datasets: consent follows the picture (registry.consent).
"""

from __future__ import annotations

import filecmp
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from provenance.pixels import pixel_sha256
from registry import dvc
from registry.consent import ConsentView, consent_view, reached
from registry.db import Store, utcnow
from registry.environment import current_user
from registry.errors import NotFoundError, RegistryError
from registry.files import current_umask
from registry.manifests import MANIFEST_NAME, ImageEntry, content_hash, read_entries, sha256_file
from registry.models import ConsentEvent, Dataset, Image, NoisyFile
from registry.vocabulary import CONSENT_STATUSES
from registry.workspace import Workspace

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
Progress = Callable[[int, int], None]


def add_dataset(
    workspace: Workspace,
    folder: Path,
    name: str,
    manifest: Path | None = None,
    license: str | None = None,
    source: str | None = None,
    progress: Progress = lambda done, total: None,
) -> Dataset:
    if not NAME_PATTERN.fullmatch(name):  # match() would accept a trailing newline
        raise RegistryError(f"invalid dataset name {name!r}: use letters, digits, '.', '_' or '-'")
    folder = Path(folder).resolve()
    if manifest is None and (folder / MANIFEST_NAME).is_file():
        manifest = folder / MANIFEST_NAME
    store = workspace.store()
    with store.reader() as session:
        if session.scalar(select(Dataset).where(Dataset.name == name)):
            raise RegistryError(f"dataset {name!r} is already registered")
    entries = read_entries(folder, manifest, license, source, progress)

    target = workspace.data_dir / name
    created = _place_files(workspace, entries, manifest, target)
    dvc_file = workspace.root / dvc.DATA_DVC
    previous_dvc = dvc_file.read_bytes() if dvc_file.is_file() else None
    try:
        version = dvc.add_data(workspace.root)
        with store.transaction() as session:
            dataset = _record(session, workspace, name, target, entries, manifest, license, source, version)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        if previous_dvc is None:
            dvc_file.unlink(missing_ok=True)
        else:
            dvc_file.write_bytes(previous_dvc)
        raise
    return dataset


def _place_files(workspace: Workspace, entries: list[ImageEntry], manifest: Path | None, target: Path) -> bool:
    """Copy the images (and manifest) to data/NAME; returns True when the folder is new.

    An existing folder is accepted only when it already holds exactly these files, which
    is how a fresh clone rebuilds its starter data under an unchanged data.dvc.
    """
    workspace.registry_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=workspace.registry_dir))
    try:
        for entry in entries:
            for source, file, sha256 in _files(entry):
                destination = staging / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
                if sha256_file(destination) != sha256:
                    raise RegistryError(f"{source} changed while it was being copied")
        if manifest is not None:
            shutil.copyfile(manifest, staging / MANIFEST_NAME)
        if target.exists():
            if not _same_tree(staging, target):
                raise RegistryError(f"{target} already exists with other content; remove it or pick another name")
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700; data/ is shared as the umask says
        staging.rename(target)
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _files(entry: ImageEntry) -> list[tuple[Path, str, str]]:
    """(source, relative file, sha256) of an entry's image and of its noisy pair, if any."""
    files = [(entry.source_path, entry.file, entry.sha256)]
    if entry.noisy:
        files.append((entry.noisy.source_path, entry.noisy.file, entry.noisy.sha256))
    return files


def _same_tree(left: Path, right: Path) -> bool:
    def listing(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    names = listing(left)
    return names == listing(right) and all(filecmp.cmp(left / n, right / n, shallow=False) for n in names)


def _record(session, workspace, name, target, entries, manifest, license, source, version) -> Dataset:
    licenses = {e.license for e in entries}
    dataset = Dataset(
        name=name,
        path=workspace.relative(target),
        content_hash=content_hash(entries),
        dvc_version=version,
        source=source or "",
        license=license or (licenses.pop() if len(licenses) == 1 else "mixed (see images)"),
        manifest_sha256=sha256_file(manifest) if manifest else None,
        added_by=_who(workspace),
        added_at=utcnow(),
    )
    session.add(dataset)
    for e in entries:
        dataset.images.append(
            Image(
                image_id=e.image_id,
                path=workspace.relative(target / e.file),
                sha256=e.sha256,
                content_sha256=e.content_sha256,
                bytes=e.bytes,
                width=e.info.width,
                height=e.info.height,
                mode=e.info.mode,
                conversion=e.info.conversion,
                license=e.license,
                attribution=e.attribution,
                source=e.source,
                notes=e.notes,
                consent=e.consent,
                noisy=_noisy_file(workspace, target, e),
            )
        )
    session.flush()
    return dataset


def _noisy_file(workspace: Workspace, target: Path, entry: ImageEntry) -> NoisyFile | None:
    if entry.noisy is None:
        return None
    noisy = entry.noisy
    path = workspace.relative(target / noisy.file)
    return NoisyFile(file=noisy.file, path=path, sha256=noisy.sha256, bytes=noisy.bytes, mode=noisy.info.mode)


def _who(workspace: Workspace) -> str:
    user = current_user(workspace.root)
    return user.get("git_email") or user["os_user"]


def list_datasets(workspace: Workspace) -> list[Dataset]:
    with workspace.store().reader() as session:
        return list(session.scalars(select(Dataset).options(selectinload(Dataset.images)).order_by(Dataset.name)))


def get_dataset(session: Session, name: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name).options(selectinload(Dataset.images)))
    if dataset is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return dataset


def show_dataset(workspace: Workspace, name: str) -> Dataset:
    with workspace.store().reader() as session:
        return get_dataset(session, name)


def dataset_consent(workspace: Workspace, datasets: Sequence[Dataset]) -> ConsentView:
    """Effective consent and copies of every image of these datasets."""
    with workspace.store().reader() as session:
        return consent_view(session, [image for dataset in datasets for image in dataset.images])


def set_consent(workspace: Workspace, key: str, status: str, note: str = "") -> ConsentEvent:
    """Change one image's consent status (DATASET/IMAGE) and record the change.

    The row keeps the status given here; the event records every copy of the picture the
    change reached, with the effective status that now applies to all of them.
    """
    if status not in CONSENT_STATUSES:
        raise RegistryError(f"consent status {status!r} is not one of {', '.join(CONSENT_STATUSES)}")
    dataset_name, sep, image_id = key.partition("/")
    if not sep or not image_id:
        raise RegistryError(f"expected DATASET/IMAGE, got {key!r}")
    with workspace.store().transaction() as session:
        dataset = get_dataset(session, dataset_name)
        image = next((i for i in dataset.images if i.image_id == image_id), None)
        if image is None:
            raise NotFoundError(f"dataset {dataset_name!r} has no image {image_id!r}")
        event = ConsentEvent(
            image_id=image.id,
            previous=image.consent,
            status=status,
            note=note,
            changed_by=_who(workspace),
            changed_at=utcnow(),
        )
        image.consent, image.consent_note = status, note
        event.reached = reached(session, image)
        session.add(event)
    return event


def backfill_content_hashes(workspace: Workspace, store: Store) -> int:
    """Hash the pixels of images recorded before content hashes existed; returns how many.

    Only a file that is present and still has its recorded sha256 is trusted to show the
    recorded picture; any other row stays unhashed (grouped by its file sha256). One
    transaction, so an interrupted backfill leaves every row as it was.
    """
    filled = 0
    with store.transaction() as session:
        for image in session.scalars(select(Image).where(Image.content_sha256.is_(None))).all():
            try:
                path = workspace.resolve(image.path)
                if path.is_file() and sha256_file(path) == image.sha256:
                    image.content_sha256 = pixel_sha256(path)
                    filled += 1
            except (RegistryError, OSError, ValueError):
                continue  # unreadable or outside the workspace: left unhashed, not guessed
    return filled


def dataset_datasheet(workspace: Workspace, name: str) -> list[dict[str, str]]:
    from registry.reports.datasheet import datasheet  # the reports package imports this module

    with workspace.store().reader() as session:
        return datasheet(session, name)
