"""Which model a command means: a run of the workspace's registry, or a model folder.

A folder that names a run recorded in this registry must carry that run's final
weights; otherwise it is refused, so nobody can borrow a real run's name (and its
records) for other weights. A model whose weights depend on pictures whose consent was
withdrawn since is warned about, or refused under the workspace's `withdrawn-models`
policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.anchors import Anchor
from registry.errors import RegistryError
from registry.identity import registry_id
from registry.impact import affected_runs
from registry.model_folders import is_model_folder, open_model_folder
from registry.models import Run
from registry.reporting import Reporter
from registry.run_models import MODEL_FILE, LoadedModel, load_run_model
from registry.runs import RUN_LOADS, get_run
from registry.withdrawals import LISTED, NOT_LISTED, ListCheck, ListSource
from registry.workspace import Workspace, setting


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


@dataclass
class WithdrawnTraining:
    """Whether a model's weights depend on pictures whose consent is now withdrawn, and who says so."""

    run_id: str | None
    images: list[str] = field(default_factory=list)  # withdrawn training/validation images, from every source
    sources: list[str] = field(default_factory=list)  # this registry, the folder's record, a withdrawal list
    list_check: ListCheck | None = None  # what the withdrawal list consulted said, if any
    location: str | None = None  # where the model's registry publishes its withdrawal list

    def summary(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "sources": self.sources,
            "withdrawal_list": self.list_check.summary() if self.list_check else None,
        }


def withdrawn_training(
    model: LoadedModel, workspace: Workspace | None, lists: ListSource | None = None
) -> WithdrawnTraining:
    """What is known of the model's training data having lost its consent.

    A run of this registry is judged by the registry's records (registry.impact); a model
    folder from elsewhere by what its record said when exported (`withdrawn_since_training`)
    and by a withdrawal list, when one applies (an explicit --withdrawals FILE, or the
    location the folder records).
    """
    found = WithdrawnTraining(model.run_id)
    images: set[str] = set()
    workspace_id = model.record.get("workspace_id")
    if workspace is not None and model.in_registry:
        with workspace.store().reader() as session:
            affected = affected_runs(session, [model.run_id]).get(model.run_id, [])
            workspace_id = registry_id(session)
        found.location = setting(workspace.root, "withdrawals-location")
        if affected:
            images |= set(affected)
            found.sources.append("this registry's records")
    else:
        data = model.record.get("training_data")
        recorded = data.get("withdrawn_since_training") if isinstance(data, dict) else None
        if isinstance(recorded, list) and recorded:
            images |= {str(image) for image in recorded}
            found.sources.append(f"the model folder's record ({model.claims} claims)")
        location = model.record.get("withdrawals_location")
        found.location = location if isinstance(location, str) else None
    if lists is not None:
        # The registry's own records are fresher than any list it published: for its runs only
        # an explicit --withdrawals FILE is consulted, never the recorded location.
        location = None if model.in_registry and workspace is not None else found.location
        check = lists.check(model.run_id, model.weights_sha256, workspace_id, location)
        found.list_check = check
        if check is not None and check.status == LISTED:
            images |= set(check.images)
            found.sources.append(f"withdrawal list {check.source}")
    found.images = sorted(images)
    return found


def enforce_withdrawn_policy(
    model: LoadedModel, workspace: Workspace | None, found: WithdrawnTraining, reporter: Reporter
) -> None:
    """The workspace's `withdrawn-models` policy: warn (default; also outside a workspace) or refuse (exit 2)."""
    check = found.list_check
    if check is not None and check.status != LISTED:  # not listed: a fact; not applicable, not fetched: a warning
        (reporter.info if check.status == NOT_LISTED else reporter.warn)(check.note)
    if not found.images:
        return
    run = model.run_id or "(unnamed run)"
    images = ", ".join(found.images)
    successor = f"registry train --successor {run}"
    if not model.in_registry:
        successor += " (in the registry that trained it)"
    policy = (setting(workspace.root, "withdrawn-models") if workspace is not None else None) or "warn"
    if policy == "refuse":
        raise RegistryError(
            f"model {model.source if model.source != 'run' else run} was trained on image(s) whose consent is now "
            f"withdrawn ({images}); this workspace refuses such models (withdrawn-models=refuse); "
            f"train a successor without them: {successor}"
        )
    reporter.warn(
        f"model {model.source if model.source != 'run' else run} was trained on image(s) whose consent is now "
        f"withdrawn ({images}; according to {', '.join(found.sources)}); its signed outputs say "
        f"training/mining notAllowed; a successor leaves them out: {successor}"
    )


def check_withdrawn_training(
    model: LoadedModel, workspace: Workspace | None, lists: ListSource | None, reporter: Reporter
) -> WithdrawnTraining:
    """withdrawn_training, then the workspace's policy on it (a warning, or a one-line refusal)."""
    found = withdrawn_training(model, workspace, lists)
    enforce_withdrawn_policy(model, workspace, found, reporter)
    return found
