"""Signed model folders, in the OpenSSF model-signing format (a Sigstore bundle, `model.sig`).

The signature covers every file of the folder (the weights, the record, the card): a
changed, added or removed file breaks it, and so does a symlink. It is signed with a key
and certificate (offline, no transparency log) and verified against trust anchors the
caller chooses; nothing a folder carries is trusted because it is there. Any tool that
speaks the format checks it too:
`model_signing verify certificate FOLDER --signature FOLDER/model.sig --certificate_chain CA.pem`.

model-signing checks the certificate chain as of the signing certificate's start of
validity and the bundle carries no signing time: a folder keeps verifying after its
certificate expires, and so would one signed with that key after expiry. Keep publisher
keys private; a leaked one calls for a new publisher CA (and dropping the old one from
the lists that trust it).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from provenance.anchors import Anchor, fingerprint, issuing_anchor, pem_bundle
from provenance.keys import SigningCredentials, write_private

SIGNATURE_FILE = "model.sig"

SIGNED = "signed"  # verified against a trusted anchor
UNSIGNED = "unsigned"
ALTERED = "altered"  # a file changed, appeared or disappeared since signing
UNTRUSTED = "untrusted signer"
INVALID = "invalid signature"


class ModelSignatureError(RuntimeError):
    """The folder could not be signed."""


@dataclass
class FolderVerification:
    ok: bool
    status: str  # SIGNED or one of the failures above
    detail: str = ""
    signer: dict[str, str] = field(default_factory=dict)  # subject, issuer, fingerprint of the signing certificate
    anchor: dict[str, str] | None = None  # which trust anchor validated it

    def summary(self) -> dict:
        return {"status": self.status, "detail": self.detail, "signer": self.signer, "anchor": self.anchor}


def _hashing_config():
    from model_signing import hashing  # imported when needed: it pulls in Sigstore (about 0.7 s)

    # The signature file is not part of what it signs; git metadata is not ignored either.
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE], ignore_git_paths=False)


def sign_folder(folder: Path, credentials: SigningCredentials) -> Path:
    """Write FOLDER/model.sig over every file in the folder; returns its path."""
    from model_signing import signing

    certificates = x509.load_pem_x509_certificates(credentials.chain_pem)
    leaf, rest = certificates[0], certificates[1:]
    # model-signing reads PEM files: a private folder holds them for the call only.
    with tempfile.TemporaryDirectory(prefix="provenoise-sign-") as private:
        os.chmod(private, 0o700)
        key, certificate, chain = Path(private, "key.pem"), Path(private, "leaf.pem"), Path(private, "chain.pem")
        write_private(key, credentials.key_pem)
        certificate.write_bytes(_pem(leaf))
        chain.write_bytes(b"".join(_pem(c) for c in rest))
        signature = Path(private, SIGNATURE_FILE)
        try:
            config = signing.Config().use_certificate_signer(
                private_key=key, signing_certificate=certificate, certificate_chain=[chain] if rest else []
            )
            config.set_hashing_config(_hashing_config()).sign(folder, signature)
        except (ValueError, OSError) as exc:
            raise ModelSignatureError(f"cannot sign {folder}: {exc}") from None
        target = folder / SIGNATURE_FILE
        os.replace(_copy_beside(signature, target), target)
    return target


def _copy_beside(source: Path, target: Path) -> Path:
    """A copy of `source` in the target's folder, so the final rename is atomic."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".model.sig.")
    with os.fdopen(handle, "wb") as out:
        out.write(source.read_bytes())
    os.chmod(name, 0o644)
    return Path(name)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def signing_chain(folder: Path) -> list[x509.Certificate]:
    """The certificates a folder's signature carries (unverified: for naming the signer)."""
    bundle = json.loads((folder / SIGNATURE_FILE).read_text())
    raw = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
    return [x509.load_der_x509_certificate(base64.b64decode(item["rawBytes"])) for item in raw]


def verify_folder(folder: Path, anchors: list[Anchor]) -> FolderVerification:
    """Check FOLDER/model.sig against the anchors: signer trusted, every file as signed."""
    from model_signing import verifying

    if not (folder / SIGNATURE_FILE).is_file() or (folder / SIGNATURE_FILE).is_symlink():
        return FolderVerification(False, UNSIGNED, f"no {SIGNATURE_FILE} in the folder")
    try:
        chain = signing_chain(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return FolderVerification(False, INVALID, f"{SIGNATURE_FILE} is not a signature bundle: {exc}")
    signer = _describe(chain[0]) if chain else {}
    if not anchors:
        return FolderVerification(False, UNTRUSTED, "no trust anchors", signer)
    with tempfile.TemporaryDirectory(prefix="provenoise-anchors-") as scratch:
        bundle = Path(scratch, "anchors.pem")
        bundle.write_text(pem_bundle(anchors))
        config = verifying.Config().use_certificate_verifier(certificate_chain=[bundle])
        try:
            config.set_hashing_config(_hashing_config()).verify(folder, folder / SIGNATURE_FILE)
        except InvalidSignature:
            return FolderVerification(False, INVALID, "the signature does not match the signed statement", signer)
        except ValueError as exc:
            message = str(exc)
            if message.startswith("Signature mismatch"):
                return FolderVerification(False, ALTERED, message.removeprefix("Signature mismatch: "), signer)
            return FolderVerification(False, INVALID, message, signer)
        except Exception as exc:  # pyOpenSSL's chain errors have no common base we can name without importing it
            if type(exc).__name__ == "X509StoreContextError":
                return FolderVerification(False, UNTRUSTED, f"certificate chain: {exc}", signer)
            raise
    anchor = issuing_anchor(chain, anchors)
    return FolderVerification(True, SIGNED, "", signer, anchor.describe() if anchor else None)


def _describe(certificate: x509.Certificate) -> dict[str, str]:
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "sha256_fingerprint": fingerprint(certificate),
    }
