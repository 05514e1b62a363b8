"""What withdrawn consent reaches: the runs whose weights depend on a withdrawn picture.

A run that trained or validated on a picture (any copy of it) is *affected*: its weights
depend on the picture. A run or evaluation that only tested on it has metrics that
include it, which is listed apart. Consent is the effective one (registry.consent).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.consent import withdrawals
from registry.models import Image, SplitImage

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
