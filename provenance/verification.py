"""Verifying a signed image: signature, certificate chain, data hash, and what it claims.

Each failure gets its own reason: no manifest, pixels changed (data hash mismatch),
manifest changed (an assertion or the claim no longer matches its hash, or the
manifest cannot be decoded), untrusted signer (the chain does not end in a trusted CA).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from provenance.signing import LINEAGE_LABEL, TRAINING_MINING_LABEL, media_type

NO_MANIFEST = "no manifest"
PIXELS_CHANGED = "pixels changed"
MANIFEST_CHANGED = "manifest changed"
UNTRUSTED = "untrusted signer"
OK = "ok"

_PIXEL_CODES = ("assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch")
_UNTRUSTED_CODES = ("signingCredential.untrusted", "signingCredential.invalid", "signingCredential.revoked")


@dataclass
class Verification:
    path: Path
    ok: bool
    reason: str  # OK or one of the failure reasons above, possibly with detail
    state: str | None = None  # the C2PA validation state: Trusted, Valid, Invalid
    failures: list[str] = field(default_factory=list)  # C2PA failure codes
    signer: dict[str, Any] = field(default_factory=dict)  # common name, issuer, algorithm
    lineage: dict[str, Any] = field(default_factory=dict)  # provenoise's assertion
    training_mining: str | None = None
    actions: list[dict] = field(default_factory=list)
    ingredients: list[dict] = field(default_factory=list)


def reader_context(trust_anchors: list[bytes]) -> c2pa.Context:
    anchors = "".join(pem.decode() for pem in trust_anchors)
    return c2pa.Context.from_dict({"trust": {"user_anchors": anchors}} if anchors else {})


def verify_image(path: Path, trust_anchors: list[bytes]) -> Verification:
    path = Path(path)
    data = path.read_bytes()
    try:
        reader = c2pa.Reader(media_type(path), io.BytesIO(data), None, reader_context(trust_anchors))
    except c2pa.C2paError as exc:
        name = type(exc).__name__
        if "ManifestNotFound" in name:
            return Verification(path, False, NO_MANIFEST)
        return Verification(path, False, f"{MANIFEST_CHANGED}: {str(exc).splitlines()[0][:160]}")
    manifest = reader.get_active_manifest() or {}
    results = (reader.get_validation_results() or {}).get("activeManifest") or {}
    failures = [failure["code"] for failure in results.get("failure", [])]
    result = Verification(path, False, OK, reader.get_validation_state(), failures)
    result.signer = manifest.get("signature_info", {})
    for assertion in manifest.get("assertions", []):
        if assertion["label"] == LINEAGE_LABEL:
            result.lineage = assertion["data"]
        elif assertion["label"] == TRAINING_MINING_LABEL:
            uses = {entry.get("use") for entry in assertion["data"].get("entries", {}).values()}
            result.training_mining = uses.pop() if len(uses) == 1 else "mixed"
        elif assertion["label"].startswith("c2pa.actions"):
            result.actions = assertion["data"].get("actions", [])
    result.ingredients = manifest.get("ingredients", [])
    if any(code in _PIXEL_CODES for code in failures):
        result.reason = PIXELS_CHANGED
    elif failures and all(code in _UNTRUSTED_CODES for code in failures):
        result.reason = UNTRUSTED
    elif failures:
        result.reason = f"{MANIFEST_CHANGED}: {', '.join(failures)}"
    result.ok = result.reason == OK
    return result
