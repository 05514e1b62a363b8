"""Integrity: does everything a run recorded still have its recorded hash?

Checked before any re-execution: the run's config against its hash, every image of
its split (a missing one is restored from the DVC cache at the run's recorded data
version), the real noisy file of every paired image it used or was evaluated on, every
checkpoint and training-state file, and the ledger: every row the run
touched (its record, split, checkpoints, losses, metrics, evaluations, audits, and the
images and datasets it used) must still be what its latest ledger entry recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from denoiser.config import ConfigError, config_from_dict
from registry import dvc
from registry.errors import RegistryError
from registry.ledger.check import check_records
from registry.manifests import sha256_file
from registry.models import (
    Audit,
    Checkpoint,
    Dataset,
    Evaluation,
    Image,
    LossPoint,
    Metric,
    NoisyFile,
    Run,
    RunMetric,
    SplitImage,
)
from registry.workspace import Workspace


@dataclass
class Integrity:
    failures: list[dict] = field(default_factory=list)  # {"kind", "file", "expected", "actual"}
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_integrity(workspace: Workspace, run: Run) -> Integrity:
    result = Integrity()
    _check_config(run, result)
    for member in run.splits:
        _check_image(workspace, run, member.image_key, member.path, member.sha256, result)
    with workspace.store().reader() as session:
        noisy = paired_files(session, run)
    for key, file in noisy.items():
        _check_image(workspace, run, f"{key} (noisy file)", file.path, file.sha256, result)
    for checkpoint in run.checkpoints:
        _check_file(workspace, "checkpoint", checkpoint.path, checkpoint.sha256, result)
        _check_file(workspace, "training state", checkpoint.state_path, checkpoint.state_sha256, result)
    _check_ledger(workspace, run, result)
    return result


def _check_ledger(workspace: Workspace, run: Run, result: Integrity) -> None:
    with workspace.store().reader() as session:
        wanted = touched_records(session, run)
        for mismatch in check_records(session.connection(), wanted):
            where = f"ledger entry #{mismatch.entry}" if mismatch.entry is not None else "the ledger"
            result.failures.append(
                {
                    "kind": "ledger",
                    "file": f"{mismatch.table} {mismatch.key} (as recorded in {where})",
                    "expected": mismatch.expected,
                    "actual": mismatch.actual,
                }
            )


def paired_files(session: Session, run: Run) -> dict[str, NoisyFile]:
    """image key -> real noisy file, for the paired images in the run's split or scored by its evaluations."""
    split = {member.image_pk for member in run.splits}
    evaluated = set(session.scalars(select(Metric.image_key).where(Metric.run_id == run.id).distinct()))
    datasets = {key.partition("/")[0] for key in evaluated}
    query = (
        select(NoisyFile, Image.id, Image.image_id, Dataset.name)
        .join(Image, NoisyFile.image_pk == Image.id)
        .join(Dataset, Image.dataset_id == Dataset.id)
        .where(or_(Image.id.in_(split), Dataset.name.in_(datasets)))
    )
    found = {}
    for file, pk, image_id, name in session.execute(query):
        key = f"{name}/{image_id}"
        if pk in split or key in evaluated:
            found[key] = file
    return dict(sorted(found.items()))


def touched_records(session: Session, run: Run) -> dict[str, list[str]]:
    """table -> keys of every row the run wrote or read."""

    def ids(model, *conditions) -> list[str]:
        return [str(pk) for pk in session.scalars(select(model.id).where(*conditions))]

    images = {member.image_pk for member in run.splits}
    return {
        "runs": [run.id],
        "split_images": ids(SplitImage, SplitImage.run_id == run.id),
        "checkpoints": ids(Checkpoint, Checkpoint.run_id == run.id),
        "loss_points": ids(LossPoint, LossPoint.run_id == run.id),
        "metrics": ids(Metric, Metric.run_id == run.id),
        "run_metrics": ids(RunMetric, RunMetric.run_id == run.id),
        "evaluations": ids(Evaluation, Evaluation.run_id == run.id),
        "audits": ids(Audit, Audit.run_id == run.id),
        "images": ids(Image, Image.id.in_(images)),
        "noisy_files": [str(file.id) for file in paired_files(session, run).values()],
        "datasets": [
            str(pk) for pk in session.scalars(select(Image.dataset_id).where(Image.id.in_(images)).distinct())
        ],
    }


def _check_config(run: Run, result: Integrity) -> None:
    try:
        actual = config_from_dict(run.config).digest()
    except ConfigError as exc:
        actual = f"invalid ({exc})"
    if actual != run.config_hash:
        result.failures.append(
            {"kind": "config", "file": f"run {run.id} config", "expected": run.config_hash, "actual": actual}
        )


def _resolve(workspace: Workspace, kind: str, relative: str, expected: str, result: Integrity) -> Path | None:
    """The recorded path, or None (and a failure) when the record points outside the workspace."""
    try:
        return workspace.resolve(relative)
    except RegistryError:
        result.failures.append(
            {"kind": kind, "file": relative, "expected": expected, "actual": "path leaves the workspace"}
        )
        return None


def _check_image(workspace: Workspace, run: Run, key: str, relative: str, expected: str, result: Integrity) -> None:
    path = _resolve(workspace, "image", relative, expected, result)
    if path is None:
        return
    if not path.is_file():
        parts = PurePosixPath(relative).parts
        inside_data = PurePosixPath(*parts[1:]).as_posix() if parts[:1] == (dvc.DATA_DIR,) and len(parts) > 1 else None
        if inside_data and dvc.restore_file(workspace.root, run.data_version, inside_data):
            result.notes.append(
                f"restored missing image {key} ({relative}) from the DVC cache, version {run.data_version}"
            )
        else:
            result.failures.append(
                {
                    "kind": "image",
                    "file": relative,
                    "image": key,
                    "expected": expected,
                    "actual": "missing (not in the DVC cache either)",
                }
            )
            return
    actual = sha256_file(path)
    if actual != expected:
        result.failures.append(
            {"kind": "image", "file": relative, "image": key, "expected": expected, "actual": actual}
        )


def _check_file(workspace: Workspace, kind: str, relative: str, expected: str, result: Integrity) -> None:
    path = _resolve(workspace, kind, relative, expected, result)
    if path is None:
        return
    actual = sha256_file(path) if path.is_file() else "missing"
    if actual != expected:
        result.failures.append({"kind": kind, "file": relative, "expected": expected, "actual": actual})
