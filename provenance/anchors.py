"""Trust anchors: the CA certificates a user chose to trust, each with where it came from.

Verification never trusts a certificate because a file or folder carries it; it trusts
only anchors handed to it, and says which one validated what. The publisher list that
ships with the package (`provenance/publishers/*.pem`) anchors model folders only.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

PUBLISHERS_FOLDER = "publishers"


class AnchorError(ValueError):
    """A trust anchor that is not a usable PEM certificate."""


@dataclass(frozen=True)
class Anchor:
    certificate: x509.Certificate
    label: str  # where the user chose it: "--trust partner-ca.pem", "trusted CA (your config)"...

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def describe(self) -> dict[str, str]:
        return {"label": self.label, "subject": self.subject, "sha256_fingerprint": self.fingerprint}


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def anchors_from_pem(pem: bytes, label: str) -> list[Anchor]:
    """Every certificate of a PEM bundle as an anchor; refuses text that holds none."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise AnchorError(f"{label}: not a PEM certificate ({exc})") from None
    return [Anchor(certificate, label) for certificate in certificates]


def pem_bundle(anchors: list[Anchor]) -> str:
    return "".join(anchor.pem.decode() for anchor in anchors)


def publisher_anchors() -> list[Anchor]:
    """The publisher CAs shipped with the package: they vouch for committed model folders."""
    folder = resources.files("provenance") / PUBLISHERS_FOLDER
    found: list[Anchor] = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".pem"):
            found += anchors_from_pem(entry.read_bytes(), f"publisher list: {entry.name.removesuffix('.pem')}")
    return found


def issuing_anchor(chain: list[x509.Certificate], anchors: list[Anchor]) -> Anchor | None:
    """The anchor a validated chain ends in: one of its certificates, or the issuer of its last."""
    in_chain = {fingerprint(certificate) for certificate in chain}
    for anchor in anchors:
        if anchor.fingerprint in in_chain:
            return anchor
    for anchor in anchors:
        try:
            chain[-1].verify_directly_issued_by(anchor.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return anchor
    return None
