"""What withdrawn consent reaches: the runs whose weights depend on a withdrawn picture.

A run that trained or validated on a picture (any copy of it) is *affected*: its weights
depend on the picture, and so do the models exported from it and the outputs it made. A
run or evaluation that only tested on it has metrics that include it, which is listed
apart. Consent is the effective one (registry.consent).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from registry.consent import copies_of, image_key, withdrawals
from registry.errors import NotFoundError, RegistryError
from registry.models import Dataset, Evaluation, Export, Image, Metric, Output, Run, SplitImage
from registry.workspace import Workspace

WEIGHT_ROLES = ("train", "val")  # roles whose images shape the weights


def affected_runs(session: Session, run_ids: list[str] | None = None) -> dict[str, list[str]]:
    """run id -> the keys of its train/val images whose consent is now withdrawn (runs with none left out)."""
    query = select(SplitImage).where(SplitImage.role.in_(WEIGHT_ROLES))
    if run_ids is not None:
        query = query.where(SplitImage.run_id.in_(run_ids))
    members = session.scalars(query).all()
    images = session.scalars(select(Image).where(Image.id.in_({m.image_pk for m in members}))).all()
    withdrawn = withdrawals(session, images)
    found: dict[str, set[str]] = {}
    for member in members:
        if member.image_pk in withdrawn:
            found.setdefault(member.run_id, set()).add(member.image_key)
    return {run_id: sorted(keys) for run_id, keys in sorted(found.items())}


def withdrawn_training_images(workspace: Workspace, run_ids: list[str] | None = None) -> dict[str, list[str]]:
    """affected_runs, in a session of its own (for commands that list runs)."""
    with workspace.store().reader() as session:
        return affected_runs(session, run_ids)


def impact_of(session: Session, image: Image) -> dict[str, Any]:
    """Everything that used the picture of `image` (any copy): affected runs with their exported
    models and outputs, and apart from them the runs that only tested on it and the evaluations
    that scored it. Whatever the consent is now: this is what a withdrawal reaches."""
    copies = copies_of(session, image)
    keys = {copy.id: image_key(copy) for copy in copies}
    members = session.scalars(select(SplitImage).where(SplitImage.image_pk.in_(list(keys)))).all()
    weights: dict[str, dict[str, set[str]]] = {}
    tested: dict[str, set[str]] = {}
    for member in members:
        if member.role in WEIGHT_ROLES:
            entry = weights.setdefault(member.run_id, {"images": set(), "roles": set()})
            entry["images"].add(member.image_key)
            entry["roles"].add(member.role)
        else:
            tested.setdefault(member.run_id, set()).add(member.image_key)
    tested_only = {run_id: found for run_id, found in tested.items() if run_id not in weights}
    runs = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(set(weights) | set(tested_only))))}
    affected = sorted(weights)
    exports = session.scalars(select(Export).where(Export.run_id.in_(affected)).order_by(Export.id)).all()
    outputs = session.scalars(
        select(Output).where(or_(Output.run_id.in_(affected), Output.model_run_id.in_(affected))).order_by(Output.id)
    ).all()
    scored: dict[int, set[str]] = {}
    for evaluation_id, key in session.execute(
        select(Metric.evaluation_id, Metric.image_key)
        .where(Metric.evaluation_id.is_not(None), Metric.image_key.in_(set(keys.values())))
        .distinct()
    ):
        scored.setdefault(evaluation_id, set()).add(key)
    evaluations = session.scalars(select(Evaluation).where(Evaluation.id.in_(scored)).order_by(Evaluation.id)).all()

    def run_entry(run_id: str, images: set[str]) -> dict[str, Any]:
        run = runs[run_id]
        return {"run": run.id, "name": run.name, "status": run.status, "images": sorted(images)}

    return {
        "image": image_key(image),
        "copies": sorted(key for pk, key in keys.items() if pk != image.id),
        "affected_runs": [
            run_entry(run_id, weights[run_id]["images"]) | {"roles": sorted(weights[run_id]["roles"])}
            for run_id in affected
        ],
        "exported_models": [
            {"export": e.id, "run": e.run_id, "path": e.path, "signed": e.signed, "created_at": _time(e.created_at)}
            for e in exports
        ],
        "outputs": [
            {
                "output": o.id,
                "run": o.run_id or o.model_run_id,
                "path": o.output_path,
                "signed": o.signed,
                "created_at": _time(o.created_at),
            }
            for o in outputs
        ],
        "tested_runs": [run_entry(run_id, tested_only[run_id]) for run_id in sorted(tested_only)],
        "evaluations": [
            {
                "evaluation": e.id,
                "run": e.run_id,
                "dataset": e.dataset,
                "images": sorted(scored[e.id]),
                "created_at": _time(e.created_at),
            }
            for e in evaluations
        ],
    }


def withdrawal_impact(workspace: Workspace, key: str) -> dict[str, Any]:
    """impact_of the image DATASET/IMAGE, in a session of its own."""
    dataset_name, sep, image_id = key.partition("/")
    if not sep or not image_id:
        raise RegistryError(f"expected DATASET/IMAGE, got {key!r}")
    with workspace.store().reader() as session:
        image = session.scalar(
            select(Image)
            .join(Dataset)
            .where(Dataset.name == dataset_name, Image.image_id == image_id)
            .options(selectinload(Image.dataset))
        )
        if image is None:
            raise NotFoundError(f"dataset {dataset_name!r} has no image {image_id!r}")
        return impact_of(session, image)


def _time(value) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
