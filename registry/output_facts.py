"""What a signed output says about itself: model, training data, consent, audit, policy.

Facts about a run come fresh from the registry when the model's run is recorded here;
an exported model folder speaks for itself (what was true when it was exported).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from provenance.signing import SigningError
from provenance.verification import verify_image
from registry.data_summary import training_data
from registry.models import Image, Run
from registry.run_models import LoadedModel
from registry.runs import RUN_LOADS
from registry.workspace import Workspace, read_settings

DEFAULT_MINING_POLICY = "notAllowed"


def model_facts(workspace: Workspace | None, model: LoadedModel) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "run_id": model.run_id,
        "model_name": model.config.name,
        "checkpoint_sha256": model.weights_sha256,
        "training_data": model.record.get("training_data"),
        "latest_audit": model.record.get("latest_audit"),
        "source": "registry" if model.source == "run" else "exported model folder",
    }
    if workspace is not None and model.run_id:
        with workspace.store().reader() as session:
            run = session.get(Run, model.run_id, options=RUN_LOADS)
            if run is not None:
                facts["training_data"] = training_data(session, run)
                facts["latest_audit"] = run.audits[-1].verdict if run.audits else None
                facts["source"] = "registry"
    return facts


def training_mining(workspace: Workspace | None, facts: dict[str, Any], source: Path) -> tuple[str, str]:
    """(use, why): notAllowed when the input or any training image has withdrawn consent."""
    data = facts.get("training_data") or {}
    if data.get("withdrawn_since_training"):
        return "notAllowed", f"consent withdrawn for training image(s): {', '.join(data['withdrawn_since_training'])}"
    if workspace is not None:
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        with workspace.store().reader() as session:
            withdrawn = session.scalar(select(Image).where(Image.sha256 == digest, Image.consent == "withdrawn"))
        if withdrawn is not None:
            return "notAllowed", "consent withdrawn for the input image"
    if _input_says_not_allowed(source):
        return "notAllowed", "the input's own manifest does not allow training or mining"
    policy = read_settings(workspace.root).get("training_mining") if workspace is not None else None
    return policy or DEFAULT_MINING_POLICY, "workspace policy" if policy else "default policy"


def _input_says_not_allowed(source: Path) -> bool:
    try:
        return verify_image(source, []).training_mining == "notAllowed"
    except (SigningError, OSError):  # a format C2PA cannot carry has nothing to say
        return False
