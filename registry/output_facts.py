"""What a signed output says about itself: model, training data, consent, input, rights.

Facts about a run come fresh from the registry when the model's run is recorded here
(with these weights); a model folder's record is believed only as far as its signature
allows (claims "verified" or "self-declared"). The input is checked with the same trust
anchors as `registry verify`: one whose pixels or manifest changed since signing is
refused unless the user accepts it, and that acceptance is signed into the output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from provenance.anchors import Anchor
from provenance.pixels import pixel_sha256
from provenance.rights import NOT_ALLOWED, Restriction, decide, everywhere, from_assertion
from provenance.signing import SigningError
from provenance.verification import NO_MANIFEST, OK, Verification, parent_validation, verify_image
from registry.consent import withdrawn_copies
from registry.data_summary import training_data
from registry.errors import RegistryError
from registry.identity import registry_id
from registry.models import Image, Run
from registry.run_models import REGISTRY_CLAIMS, SELF_DECLARED_CLAIMS, LoadedModel
from registry.runs import RUN_LOADS, run_fingerprint
from registry.workspace import Workspace, setting

DEFAULT_MINING_POLICY = NOT_ALLOWED
ACCEPT_INVALID_OPTION = "--accept-invalid-input"


def model_facts(workspace: Workspace | None, model: LoadedModel) -> dict[str, Any]:
    """The model's run, weights, training data and audit, and how far each can be believed."""
    record = model.record
    facts: dict[str, Any] = {
        "run_id": model.run_id,
        "model_name": model.config.name,
        "checkpoint_sha256": model.weights_sha256,
        "training_data": record.get("training_data"),
        "latest_audit": record.get("latest_audit"),
        "source": "registry" if model.source == "run" else "exported model folder",
        "claims": model.claims,
        "model_workspace_id": record.get("workspace_id"),
    }
    if model.signature is not None:
        facts["model_signature"] = model.signature
    if workspace is not None and model.in_registry:
        with workspace.store().reader() as session:
            run = session.get(Run, model.run_id, options=RUN_LOADS)
            facts["training_data"] = training_data(session, run)
            facts["latest_audit"] = run.audits[-1].verdict if run.audits else None
            facts["run_record"] = run_fingerprint(run)
            facts["model_workspace_id"] = registry_id(session)
            facts["source"], facts["claims"] = "registry", REGISTRY_CLAIMS
    return facts


@dataclass
class InputCheck:
    """What the noisy input is: its own manifest's state, its rights, and its consent here."""

    verification: Verification | None  # None for a format C2PA cannot carry
    anchors: list[Anchor] = field(default_factory=list)  # what it was checked against (the signer checks it too)
    withdrawn: list[str] = field(default_factory=list)  # registered copies whose consent is withdrawn
    accepted_invalid: bool = False

    @property
    def manifest_state(self) -> str:
        v = self.verification
        if v is None or v.reason == NO_MANIFEST:
            return "none"
        if v.reason == OK:
            return "trusted" if v.anchor else "valid"
        return "invalid" if not v.intact else "intact, " + v.reason

    def summary(self) -> dict[str, Any]:
        v = self.verification
        data: dict[str, Any] = {"manifest": self.manifest_state, "accepted_invalid": self.accepted_invalid}
        if v is not None and v.reason != NO_MANIFEST:
            data |= {"reason": v.reason, "signer": _signer(v), "anchor": v.anchor}
            parent = parent_validation(v)
            if parent:
                data["its_parent"] = parent
        if self.withdrawn:
            data["consent_withdrawn_for"] = self.withdrawn
        return data


def _signer(v: Verification) -> dict[str, Any]:
    return {key: v.signer.get(key) for key in ("common_name", "issuer", "time") if v.signer.get(key)}


def check_input(
    path: Path,
    anchors: list[Anchor],
    workspace: Workspace | None,
    accept_invalid: bool = False,
    shown: Path | None = None,
) -> InputCheck:
    """Validate the input's own manifest (refusing a broken one) and look up its consent.

    `shown` names the input in messages when `path` is a private copy of it.
    """
    try:
        verification = verify_image(path, anchors)
    except SigningError:  # a format C2PA cannot carry (judged by its bytes) has no manifest
        verification = None
    except OSError as exc:
        raise RegistryError(f"cannot read {shown or path}: {exc.strerror or exc}") from None
    check = InputCheck(verification, list(anchors))
    if verification is not None and not verification.intact:
        if not accept_invalid:
            raise RegistryError(
                f"{shown or path}: its C2PA manifest fails verification ({verification.reason}); a signed output would "
                f"launder it. Pass {ACCEPT_INVALID_OPTION} to denoise it anyway (the output's manifest records that)"
            )
        check.accepted_invalid = True
    if workspace is not None:
        check.withdrawn = _withdrawn_input(workspace, path)
    return check


def _withdrawn_input(workspace: Workspace, path: Path) -> list[str]:
    """Registered images whose consent is withdrawn that this file is a copy of (same bytes or pixels)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        content = pixel_sha256(path)
    except (OSError, ValueError):
        content = None
    with workspace.store().reader() as session:
        found = set(withdrawn_copies(session, content)) if content else set()
        for image in session.scalars(select(Image).where(Image.sha256 == digest)):
            found |= set(withdrawn_copies(session, image.content_sha256)) if image.content_sha256 else set()
            if image.consent == "withdrawn":
                found.add(f"{image.dataset.name}/{image.image_id}")
    return sorted(found)


def rights_sources(workspace: Workspace | None, facts: dict[str, Any], input: InputCheck) -> list[dict]:
    """Everything that restricts training and mining on the output, each with its reason."""
    sources: list[dict[str, Restriction]] = []
    for assertion in input.verification.training_mining_assertions if input.verification else []:
        sources.append(from_assertion(assertion, "input"))
    if input.withdrawn:
        why = f"consent withdrawn for the input image ({', '.join(input.withdrawn)})"
        sources.append(everywhere("input consent", NOT_ALLOWED, why))
    data = facts.get("training_data") or {}
    if facts.get("claims") == SELF_DECLARED_CLAIMS:
        sources.append(everywhere("training data", NOT_ALLOWED, "the model's training data is self-declared"))
    elif data.get("withdrawn_since_training"):
        why = f"consent withdrawn for training image(s): {', '.join(data['withdrawn_since_training'])}"
        sources.append(everywhere("training data", NOT_ALLOWED, why))
    policy = setting(workspace.root, "training-mining") if workspace is not None else None
    if policy:
        sources.append(everywhere("workspace policy", policy))
    else:
        sources.append(everywhere("default policy", DEFAULT_MINING_POLICY))
    return sources


def training_mining(workspace: Workspace | None, facts: dict[str, Any], input: InputCheck) -> dict:
    """Per entry, the most restrictive use of every source (provenance.rights.decide)."""
    return decide(rights_sources(workspace, facts, input))
