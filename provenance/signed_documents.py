"""JSON documents signed with a certificate's key: ledger heads, withdrawal lists.

A signed document is `{"payload": {...}, "signature": {"alg": "ES256", "value": base64 DER,
"chain": [PEM, ...]}}`. The signature covers the payload's RFC 8785 canonical JSON, so any
change to any value (or a reordering that changes meaning) breaks it while whitespace and
key order do not. Verification trusts only the anchors it is given, checks the chain as of
a given time (the document's own signing time by default: a list signed while its
certificate was valid stays checkable), and names the anchor that validated it.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from provenance.anchors import Anchor, issuing_anchor
from provenance.keys import SigningCredentials

ALGORITHM = "ES256"
SIGNED_AT = "signed_at"  # payload field: UTC ISO 8601 time of signing


class DocumentError(ValueError):
    """A document that is malformed, altered, or signed by someone not trusted."""


@dataclass(frozen=True)
class VerifiedDocument:
    payload: dict[str, Any]
    signer: str  # subject of the signing certificate
    anchor: dict[str, str]  # the trust anchor that validated it


def canonical(value: Any) -> bytes:
    """RFC 8785 JSON: one byte string for one value, whoever serialises it."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise DocumentError(f"cannot be written as canonical JSON: {exc}") from None


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sign_document(payload: dict[str, Any], credentials: SigningCredentials) -> dict[str, Any]:
    """The payload (with its signing time added) and an ES256 signature over its canonical JSON."""
    payload = payload | {SIGNED_AT: payload.get(SIGNED_AT) or utc_now()}
    key = serialization.load_pem_private_key(credentials.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DocumentError("documents are signed with an EC (ES256) key")
    signature = key.sign(canonical(payload), ec.ECDSA(hashes.SHA256()))
    chain = [
        c.public_bytes(serialization.Encoding.PEM).decode()
        for c in x509.load_pem_x509_certificates(credentials.chain_pem)
    ]
    return {
        "payload": payload,
        "signature": {"alg": ALGORITHM, "value": base64.b64encode(signature).decode(), "chain": chain},
    }


def verify_document(document: Any, anchors: list[Anchor], at: datetime.datetime | None = None) -> VerifiedDocument:
    """The payload of a document whose signature and certificate chain check out against `anchors`."""
    payload, signature, chain = _parts(document)
    leaf = chain[0]
    try:
        leaf.public_key().verify(signature, canonical(payload), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, TypeError, ValueError):
        raise DocumentError("the signature does not match the document (it was changed after signing)") from None
    when = at or _signing_time(payload)
    anchor = issuing_anchor(chain, anchors)
    if anchor is None:
        raise DocumentError(f"signed by {leaf.subject.rfc4514_string()}, whose CA you do not trust")
    verifier = (
        PolicyBuilder()
        .store(Store([anchor.certificate]))
        .time(when)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, [c for c in chain[1:] if c != anchor.certificate])
    except VerificationError as exc:
        raise DocumentError(f"certificate chain of {leaf.subject.rfc4514_string()}: {exc}") from None
    return VerifiedDocument(payload, leaf.subject.rfc4514_string(), anchor.describe())


def _parts(document: Any) -> tuple[dict[str, Any], bytes, list[x509.Certificate]]:
    try:
        payload, signature = document["payload"], document["signature"]
        if not isinstance(payload, dict) or signature.get("alg") != ALGORITHM:
            raise ValueError(f"expected an {ALGORITHM} signature over an object")
        value = base64.b64decode(signature["value"], validate=True)
        chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in signature["chain"]]
        if not chain:
            raise ValueError("no certificate")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DocumentError(f"not a signed document: {exc}") from None
    return payload, value, chain


def _signing_time(payload: dict[str, Any]) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(str(payload[SIGNED_AT]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise DocumentError(f"the document has no valid {SIGNED_AT} time") from None
