"""Verifying a signed image: signature, certificate chain, data hash, and what it claims.

Each failure gets its own reason: no manifest, pixels changed (data hash mismatch),
manifest changed (an assertion or the claim no longer matches its hash, or the
manifest cannot be decoded), certificate expired (signed without a trusted time-stamp,
checked after the certificate's end), untrusted signer (the chain does not end in one
of the given anchors). Only the anchors passed in are trusted, and a trusted result
names the one that validated it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from provenance.anchors import Anchor, pem_bundle
from provenance.lineage_schema import lineage_problem
from provenance.rights import LEGACY_LABEL, TRAINING_MINING_LABEL, summarize
from provenance.signing import LINEAGE_LABEL, SigningError, content_media_type

NO_MANIFEST = "no manifest"
PIXELS_CHANGED = "pixels changed"
MANIFEST_CHANGED = "manifest changed"
EXPIRED = "certificate expired"
UNTRUSTED = "untrusted signer"
MALFORMED_LINEAGE = "malformed lineage assertion"  # signed, intact, but not the shape provenoise reads
OK = "ok"
INTEGRITY_FAILURES = (PIXELS_CHANGED, MANIFEST_CHANGED)  # the file is not what was signed

_PIXEL_CODES = ("assertion.dataHash.mismatch", "assertion.boxesHash.mismatch", "assertion.bmffHash.mismatch")
_EXPIRED_CODE = "signingCredential.expired"
_UNTRUSTED_CODES = ("signingCredential.untrusted", "signingCredential.invalid", "signingCredential.revoked")
_TRUSTED_STATE = "Trusted"


@dataclass
class Verification:
    path: Path
    ok: bool
    reason: str  # OK or one of the failure reasons above, possibly with detail
    state: str | None = None  # the C2PA validation state: Trusted, Valid, Invalid
    failures: list[str] = field(default_factory=list)  # C2PA failure codes
    signer: dict[str, Any] = field(default_factory=dict)  # common name, issuer, algorithm, time-stamp time
    anchor: dict[str, str] | None = None  # the trust anchor that validated the signer
    time_stamp: str | None = None  # "trusted", "untrusted" or None (no RFC 3161 time-stamp)
    lineage: dict[str, Any] = field(default_factory=dict)  # provenoise's assertion ({} when malformed)
    lineage_problem: str | None = None  # what is wrong with a malformed one (provenance.lineage_schema)
    training_mining: str | None = None  # one word for the whole assertion, or "mixed"
    training_mining_entries: dict[str, Any] = field(default_factory=dict)  # the assertion's data, entry by entry
    training_mining_assertions: list[Any] = field(default_factory=list)  # each training-mining assertion, raw
    actions: list[dict] = field(default_factory=list)
    ingredients: list[dict] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Nothing changed since signing (whoever signed, however old their certificate), or nothing was signed."""
        return not self.reason.startswith(INTEGRITY_FAILURES)


def reader_context(trust_anchors: list[Anchor]) -> c2pa.Context:
    anchors = pem_bundle(trust_anchors)
    return c2pa.Context.from_dict({"trust": {"user_anchors": anchors}} if anchors else {})


def _read(kind: str, data: bytes, anchors: list[Anchor]) -> c2pa.Reader:
    return c2pa.Reader(kind, io.BytesIO(data), None, reader_context(anchors))


def verify_image(path: Path, trust_anchors: list[Anchor]) -> Verification:
    """Verify a file's embedded manifest; SigningError when its format cannot carry one."""
    path = Path(path)
    kind = content_media_type(path)
    if kind is None:
        raise SigningError(f"{path.name}: not an image format that can carry a C2PA manifest")
    data = path.read_bytes()  # read once: every check below sees the same bytes
    try:
        reader = _read(kind, data, trust_anchors)
    except c2pa.C2paError as exc:
        name = type(exc).__name__
        if "ManifestNotFound" in name:
            return Verification(path, False, NO_MANIFEST)
        return Verification(path, False, f"{MANIFEST_CHANGED}: {str(exc).splitlines()[0][:160]}")
    manifest = reader.get_active_manifest() or {}
    results = (reader.get_validation_results() or {}).get("activeManifest") or {}
    failures = [failure["code"] for failure in results.get("failure", [])]
    result = Verification(path, False, _reason(failures), reader.get_validation_state(), failures)
    result.signer = manifest.get("signature_info", {})
    result.time_stamp = _time_stamp(results)
    _read_assertions(manifest, result)
    if result.reason == OK and result.lineage_problem:
        result.reason = f"{MALFORMED_LINEAGE}: {result.lineage_problem}"
    result.ok = result.reason == OK
    if result.ok and result.state == _TRUSTED_STATE:
        result.anchor = _validating_anchor(kind, data, trust_anchors)
    return result


def _reason(failures: list[str]) -> str:
    if any(code in _PIXEL_CODES for code in failures):
        return PIXELS_CHANGED
    credential = set(_UNTRUSTED_CODES) | {_EXPIRED_CODE}
    other = [code for code in failures if code not in credential]
    if other:
        return f"{MANIFEST_CHANGED}: {', '.join(other)}"
    if _EXPIRED_CODE in failures:
        return EXPIRED  # c2pa also calls an expired chain untrusted; the expiry is the cause
    if failures:
        return UNTRUSTED
    return OK


def _time_stamp(results: dict[str, Any]) -> str | None:
    codes = {item["code"] for kind in ("success", "informational", "failure") for item in results.get(kind, [])}
    if "timeStamp.trusted" in codes:
        return "trusted"
    if any(code.startswith("timeStamp.") for code in codes):
        return "untrusted"
    return None


def _read_assertions(manifest: dict[str, Any], result: Verification) -> None:
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data")
        if label == LINEAGE_LABEL:
            problem = lineage_problem(data) if isinstance(data, dict) else "not a mapping"
            result.lineage, result.lineage_problem = ({}, problem) if problem else (data, None)
        elif label in (TRAINING_MINING_LABEL, LEGACY_LABEL):
            # Kept as written: provenance.rights reads each (a malformed one restricts everything).
            result.training_mining_assertions.append(data)
            entries = data.get("entries") if isinstance(data, dict) else None
            if isinstance(entries, dict):
                result.training_mining_entries = result.training_mining_entries | entries
            result.training_mining = summarize(result.training_mining_entries) if entries else "unreadable"
        elif label.startswith("c2pa.actions") and isinstance(data, dict):
            result.actions = data.get("actions", [])
    result.ingredients = manifest.get("ingredients", [])


def _validating_anchor(kind: str, data: bytes, anchors: list[Anchor]) -> dict[str, str] | None:
    """Which anchor the chain ends in: the one that alone still makes the signer trusted."""
    if len(anchors) == 1:
        return anchors[0].describe()
    for anchor in anchors:
        try:
            if _read(kind, data, [anchor]).get_validation_state() == _TRUSTED_STATE:
                return anchor.describe()
        except c2pa.C2paError:
            continue
    return None


def parent_validation(verification: Verification) -> dict[str, Any] | None:
    """What the signer's tool found when it checked the input (the parent ingredient), if it had a manifest."""
    for ingredient in verification.ingredients:
        if ingredient.get("relationship") != "parentOf" or "active_manifest" not in ingredient:
            continue
        stored = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
        codes = [item.get("code", "") for item in stored.get("failure", [])]
        legacy = [item.get("code", "") for item in ingredient.get("validation_status", []) or []]
        return {"title": ingredient.get("title"), "reason": _reason(codes or legacy)}
    return None
