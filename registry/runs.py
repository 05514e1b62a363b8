"""Looking up runs: by full id or by a unique prefix, like git's short hashes."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from denoiser.config import ConfigError, ExperimentConfig, config_from_dict
from registry.errors import NotFoundError, RegistryError
from registry.models import Run
from registry.run_locks import settle_abandoned
from registry.workspace import Workspace

ROLES = ("train", "val", "test")

RUN_LOADS = (
    selectinload(Run.splits),
    selectinload(Run.checkpoints),
    selectinload(Run.losses),
    selectinload(Run.metrics),
    selectinload(Run.aggregates),
    selectinload(Run.audits),
    selectinload(Run.evaluations),
)


def get_run(session: Session, run_ref: str) -> Run:
    run = session.get(Run, run_ref, options=RUN_LOADS)
    if run is not None:
        return run
    matches = list(session.scalars(select(Run.id).where(Run.id.startswith(run_ref, autoescape=True)).limit(2)))
    if not matches or not run_ref:
        raise NotFoundError(f"no run {run_ref!r}")
    if len(matches) > 1:
        raise RegistryError(f"run id {run_ref!r} is ambiguous; give more characters")
    return session.get(Run, matches[0], options=RUN_LOADS)


def show_run(workspace: Workspace, run_ref: str) -> Run:
    settle_abandoned(workspace.store())  # a run whose trainer died shows as interrupted
    with workspace.store().reader() as session:
        return get_run(session, run_ref)


def successor_ids(workspace: Workspace, run_id: str) -> list[str]:
    """The runs recorded as successors of `run_id` (re-trained without withdrawn images), oldest first."""
    with workspace.store().reader() as session:
        query = select(Run.id).where(Run.successor_of == run_id).order_by(Run.created_at, Run.id)
        return list(session.scalars(query))


def list_runs(workspace: Workspace) -> list[Run]:
    settle_abandoned(workspace.store())
    with workspace.store().reader() as session:
        query = select(Run).options(selectinload(Run.aggregates), selectinload(Run.audits)).order_by(Run.created_at)
        return list(session.scalars(query))


def recorded_config(run: Run) -> ExperimentConfig:
    """The run's config, after checking it still matches its recorded hash."""
    try:
        config = config_from_dict(run.config)
    except ConfigError as exc:
        raise RegistryError(f"run {run.id}: recorded config is invalid: {exc}") from None
    if config.digest() != run.config_hash:
        raise RegistryError(f"run {run.id}: recorded config does not match its recorded hash")
    return config


def split_files(run: Run) -> dict[str, list[tuple[str, str, str]]]:
    """role -> [(image key, workspace-relative path, sha256)] in split order."""
    files: dict[str, list[tuple[str, str, str]]] = {role: [] for role in ROLES}
    for member in sorted(run.splits, key=lambda m: (m.role, m.position)):
        files[member.role].append((member.image_key, member.path, member.sha256))
    return files


def run_fingerprint(run: Run) -> dict[str, str | None]:
    """What a signed output pins of its run, so a later edit of the record shows.

    The config hash is recomputed from the stored config (an edit of either column shows);
    the split digest covers every image of every role with the hash it had when used; the
    seeds and the code's source hash are what a re-execution starts from.
    """
    members = sorted(run.splits, key=lambda m: (m.role, m.position))
    split = hashlib.sha256("".join(f"{m.role}\0{m.position}\0{m.image_key}\0{m.sha256}\n" for m in members).encode())
    try:
        config_hash = config_from_dict(run.config).digest()
    except ConfigError:
        config_hash = None
    return {
        "config_sha256": config_hash,
        "final_checkpoint_sha256": run.checkpoints[-1].sha256 if run.checkpoints else None,
        "split_sha256": split.hexdigest(),
        "data_version": run.data_version,
        "seeds": f"{run.seed}/{run.split_seed}",
        "code_sha256": (run.code or {}).get("source_sha256"),
    }
