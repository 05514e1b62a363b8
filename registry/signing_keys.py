"""Where signing credentials come from, and which CAs a verifier trusts.

Signing uses, in order: --cert/--key, then $PROVENOISE_SIGNING_CERT/$PROVENOISE_SIGNING_KEY,
then the development keys of the workspace (`.registry/keys/`) or, outside a workspace,
of the user (`$XDG_CONFIG_HOME/provenoise/keys/`), created on first use. With
$PROVENOISE_SIGNER_CALLBACK=module:function the private key never reaches this process:
the function receives the bytes to sign and returns the ES256 signature (an HSM or KMS
client), and the certificate chain comes from --cert or $PROVENOISE_SIGNING_CERT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import c2pa

from provenance.keys import (
    CA_CERT,
    CredentialError,
    create_development_keys,
    describe,
    development_keys_exist,
    load_credentials,
    load_development_keys,
)
from provenance.signing import SigningError, callback_from_environment, signer_from_callback, signer_from_credentials
from registry.errors import RegistryError
from registry.reporting import Reporter
from registry.workspace import Workspace

CERT_ENV, KEY_ENV, TRUST_ENV = "PROVENOISE_SIGNING_CERT", "PROVENOISE_SIGNING_KEY", "PROVENOISE_TRUST_CA"


@dataclass
class ResolvedSigner:
    signer: c2pa.Signer
    chain_pem: bytes
    origin: str
    created_keys: bool = False


def keys_folder(workspace: Workspace | None) -> Path:
    if workspace is not None:
        return workspace.registry_dir / "keys"
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "provenoise" / "keys"


def init_keys(workspace: Workspace | None, force: bool = False) -> Path:
    folder = keys_folder(workspace)
    if development_keys_exist(folder) and not force:
        raise RegistryError(f"development keys already exist in {folder}; pass --force to replace them")
    create_development_keys(folder)
    return folder


def show_keys(workspace: Workspace | None) -> dict:
    folder = keys_folder(workspace)
    try:
        credentials = load_development_keys(folder)
    except CredentialError as exc:
        raise RegistryError(str(exc)) from None
    return {"folder": str(folder), "development": True, "chain": describe(credentials.chain_pem)}


def resolve_signer(
    workspace: Workspace | None, cert: Path | None = None, key: Path | None = None, reporter: Reporter | None = None
) -> ResolvedSigner:
    reporter = reporter or Reporter()
    cert = cert or (Path(os.environ[CERT_ENV]) if os.environ.get(CERT_ENV) else None)
    key = key or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    try:
        callback = callback_from_environment()
        if callback is not None:
            if cert is None:
                raise RegistryError(
                    "a signing callback needs the certificate chain: --cert or $PROVENOISE_SIGNING_CERT"
                )
            chain = cert.read_bytes()
            return ResolvedSigner(signer_from_callback(callback, chain), chain, f"callback with {cert}")
        if cert or key:
            if not (cert and key):
                raise RegistryError("give both --cert and --key (or both environment variables)")
            credentials = load_credentials(cert, key)
            return ResolvedSigner(signer_from_credentials(credentials), credentials.chain_pem, credentials.origin)
        folder = keys_folder(workspace)
        created = not development_keys_exist(folder)
        credentials = create_development_keys(folder) if created else load_development_keys(folder)
        if created:
            reporter.warn(
                f"created development signing keys in {folder} (not for production; see `registry keys show`)"
            )
        return ResolvedSigner(signer_from_credentials(credentials), credentials.chain_pem, credentials.origin, created)
    except (CredentialError, SigningError, OSError) as exc:
        raise RegistryError(f"cannot sign: {exc}") from None


def trust_anchors(workspace: Workspace | None, extra: list[Path] = ()) -> list[bytes]:
    """The workspace's and the user's development CAs, $PROVENOISE_TRUST_CA, and --trust files."""
    anchors = []
    for folder in {keys_folder(workspace), keys_folder(None)}:
        if (folder / CA_CERT).is_file():
            anchors.append((folder / CA_CERT).read_bytes())
    paths = list(extra) + ([Path(os.environ[TRUST_ENV])] if os.environ.get(TRUST_ENV) else [])
    for path in paths:
        try:
            anchors.append(Path(path).read_bytes())
        except OSError as exc:
            raise RegistryError(f"cannot read trust anchor {path}: {exc.strerror or exc}") from None
    return anchors


def credentials_summary(chain_pem: bytes) -> dict:
    """Subject, issuer and fingerprint of the signing certificate (never the key)."""
    leaf = describe(chain_pem)[0]
    return {key: leaf[key] for key in ("subject", "issuer", "sha256_fingerprint", "not_after")}
