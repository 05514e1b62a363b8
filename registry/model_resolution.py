"""Which model a command means: a run of the workspace's registry, or a model folder.

A folder that names a run recorded in this registry must carry that run's final
weights; otherwise it is refused, so nobody can borrow a real run's name (and its
records) for other weights.
"""

from __future__ import annotations

from pathlib import Path

from provenance.anchors import Anchor
from registry.errors import RegistryError
from registry.model_folders import is_model_folder, open_model_folder
from registry.models import Run
from registry.run_models import MODEL_FILE, LoadedModel, load_run_model
from registry.runs import RUN_LOADS, get_run
from registry.workspace import Workspace


def resolve_model(
    reference: str, workspace: Workspace | None, anchors: list[Anchor], allow_unverified: bool = False
) -> LoadedModel:
    """A model folder path, or a run id (prefix) of the workspace's registry."""
    path = Path(reference)
    if path.is_dir():
        if not is_model_folder(path):
            raise RegistryError(f"{reference} is a folder but not an exported model (no {MODEL_FILE})")
        model = open_model_folder(path, anchors, allow_unverified)
        if workspace is not None:
            bind_to_registry(model, workspace)
        return model
    if workspace is None:
        raise RegistryError(f"{reference!r} is not a model folder, and there is no workspace here to look up a run")
    with workspace.store().reader() as session:
        run = get_run(session, reference)
    config, network, digest = load_run_model(workspace, run)
    return LoadedModel(config, network, digest, run.id, "run", in_registry=True)


def bind_to_registry(model: LoadedModel, workspace: Workspace) -> None:
    """Refuse a folder naming a run of this registry with other weights; note when it is that run."""
    if not model.run_id:
        return
    with workspace.store().reader() as session:
        run = session.get(Run, model.run_id, options=RUN_LOADS)
        final = run.checkpoints[-1].sha256 if run is not None and run.checkpoints else None
    if run is None:
        return
    if final != model.weights_sha256:
        raise RegistryError(
            f"model folder {model.source} names run {model.run_id} of this registry, but its weights "
            f"(sha256 {model.weights_sha256[:16]}...) are not that run's final checkpoint "
            f"({(final or 'none')[:16]}...); refusing to record its outputs under that run"
        )
    model.in_registry = True
