"""Which CAs this user trusts: their own choices, never a folder's.

A verifier trusts `--trust CA.pem` files, $PROVENOISE_TRUST_CA, the user's own
development CA, and the CAs recorded in the user's trust store
(`$XDG_CONFIG_HOME/provenoise/trusted/<sha256 fingerprint>.pem`). A workspace's CA is
recorded there automatically when this user's command creates it, or on request with
`registry keys trust`. A workspace found by walking up from the current folder brings
no trust of its own: a downloaded folder with a `.registry/` must not vouch for itself.
Model folders are also checked against the publisher CAs that ship with the package.
"""

from __future__ import annotations

import os
from pathlib import Path

from provenance.anchors import Anchor, AnchorError, anchors_from_pem, fingerprint, publisher_anchors
from provenance.keys import CA_CERT
from registry.errors import RegistryError

TRUST_ENV = "PROVENOISE_TRUST_CA"
TRUSTED_FOLDER = "trusted"
USER_DEV_CA_LABEL = "your development CA"


def user_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "provenoise"


def user_keys_folder() -> Path:
    return user_config_dir() / "keys"


def _store() -> Path:
    return user_config_dir() / TRUSTED_FOLDER


def trust_certificate(pem: bytes, label: str) -> list[Anchor]:
    """Record the CA(s) of a PEM file in the user's trust store; returns them."""
    try:
        anchors = anchors_from_pem(pem, label)
    except AnchorError as exc:
        raise RegistryError(str(exc)) from None
    if not anchors:
        raise RegistryError(f"{label}: holds no certificate")
    store = _store()
    store.mkdir(parents=True, exist_ok=True)
    for anchor in anchors:
        target = store / f"{anchor.fingerprint}.pem"
        if not target.is_file():
            temporary = target.with_suffix(".partial")
            temporary.write_bytes(anchor.pem)
            os.replace(temporary, target)
    return anchors


def recorded_anchors() -> list[Anchor]:
    """The user's development CA and every CA in the user's trust store."""
    found: list[Anchor] = []
    own = user_keys_folder() / CA_CERT
    if own.is_file():
        found += anchors_from_pem(own.read_bytes(), USER_DEV_CA_LABEL)
    store = _store()
    for path in sorted(store.glob("*.pem")) if store.is_dir() else []:
        for anchor in anchors_from_pem(path.read_bytes(), "trusted in your config"):
            # A file whose name is not its certificate's fingerprint was not written by us.
            if anchor.fingerprint == path.stem:
                found.append(anchor)
    return _unique(found)


def chosen_anchors(extra: list[Path] = ()) -> list[Anchor]:
    """What this user chose to trust: --trust files, $PROVENOISE_TRUST_CA, and their recorded CAs."""
    found: list[Anchor] = []
    files = [(Path(p), f"--trust {p}") for p in extra]
    if os.environ.get(TRUST_ENV):
        files.append((Path(os.environ[TRUST_ENV]), f"${TRUST_ENV} ({os.environ[TRUST_ENV]})"))
    for path, label in files:
        try:
            found += anchors_from_pem(path.read_bytes(), label)
        except OSError as exc:
            raise RegistryError(f"cannot read trust anchor {path}: {exc.strerror or exc}") from None
        except AnchorError as exc:
            raise RegistryError(str(exc)) from None
    return _unique(found + recorded_anchors())


def model_anchors(extra: list[Path] = ()) -> list[Anchor]:
    """Anchors for model folders: the user's choices plus the package's publisher list."""
    return _unique(chosen_anchors(extra) + publisher_anchors())


def is_trusted(certificate_pem: bytes) -> bool:
    """Whether every certificate of the PEM is one this user recorded as trusted."""
    wanted = {a.fingerprint for a in anchors_from_pem(certificate_pem, "")}
    return bool(wanted) and wanted <= {a.fingerprint for a in recorded_anchors()}


def untrusted_workspace_ca(registry_dir: Path) -> dict[str, str] | None:
    """A workspace CA sitting beside the data that the user has not chosen to trust (for a note)."""
    path = registry_dir / "keys" / CA_CERT
    if not path.is_file():
        return None
    try:
        (anchor,) = anchors_from_pem(path.read_bytes(), str(path))[:1]
    except (AnchorError, ValueError, OSError):
        return None
    if anchor.fingerprint in {a.fingerprint for a in recorded_anchors()}:
        return None
    return {"path": str(path), "subject": anchor.subject, "sha256_fingerprint": anchor.fingerprint}


def _unique(anchors: list[Anchor]) -> list[Anchor]:
    seen: dict[str, Anchor] = {}
    for anchor in anchors:
        seen.setdefault(fingerprint(anchor.certificate), anchor)
    return list(seen.values())
