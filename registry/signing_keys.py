"""Where signing credentials come from, and which CAs a verifier trusts.

Signing uses, in order: --cert/--key, then $PROVENOISE_SIGNING_CERT/$PROVENOISE_SIGNING_KEY,
then the development keys of the workspace (`.registry/keys/`) or, outside a workspace,
of the user (`$XDG_CONFIG_HOME/provenoise/keys/`), created on first use. With
$PROVENOISE_SIGNER_CALLBACK=module:function the private key never reaches this process:
the function receives the bytes to sign and returns the ES256 signature (an HSM or KMS
client), and the certificate chain comes from --cert or $PROVENOISE_SIGNING_CERT.

Development keys created for a workspace by this user's command are trusted by this
user from then on (their CA goes into the user's trust store); nobody else's are.
A time-stamp authority (--tsa-url, or the workspace's `tsa-url` setting) makes each
signature carry an RFC 3161 time-stamp, so it still verifies after the certificate expires.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import c2pa

from provenance.keys import (
    CA_CERT,
    PUBLISHER_FILES,
    CredentialError,
    SigningCredentials,
    create_development_keys,
    describe,
    development_keys_exist,
    load_credentials,
    load_development_keys,
)
from provenance.keys import create_publisher_keys as make_publisher_keys
from provenance.signing import SigningError, callback_from_environment, signer_from_callback, signer_from_credentials
from registry.errors import RegistryError
from registry.reporting import Reporter
from registry.text import has_hidden_characters
from registry.trust_store import is_trusted, recorded_anchors, trust_certificate, user_keys_folder
from registry.workspace import Workspace, check_setting, setting

CERT_ENV, KEY_ENV = "PROVENOISE_SIGNING_CERT", "PROVENOISE_SIGNING_KEY"


@dataclass
class ResolvedSigner:
    signer: c2pa.Signer
    chain_pem: bytes
    origin: str
    created_keys: bool = False


def keys_folder(workspace: Workspace | None) -> Path:
    if workspace is not None:
        return workspace.registry_dir / "keys"
    return user_keys_folder()


def create_keys(workspace: Workspace | None, keep_ca_key: bool = False) -> SigningCredentials:
    """New development keys; a workspace's CA becomes trusted by the user who created it."""
    folder = keys_folder(workspace)
    credentials = create_development_keys(folder, keep_ca_key=keep_ca_key)
    if workspace is not None:
        trust_certificate(credentials.ca_pem, f"{folder / CA_CERT}")
    return credentials


def init_keys(workspace: Workspace | None, force: bool = False, keep_ca_key: bool = False) -> Path:
    folder = keys_folder(workspace)
    if development_keys_exist(folder) and not force:
        raise RegistryError(f"development keys already exist in {folder}; pass --force to replace them")
    create_keys(workspace, keep_ca_key)
    return folder


def tsa_url(workspace: Workspace | None, explicit: str | None = None) -> str | None:
    """--tsa-url, else the workspace's `tsa-url` setting; None signs without a time-stamp."""
    if explicit:
        return check_setting("tsa-url", explicit)
    return setting(workspace.root, "tsa-url") if workspace is not None else None


def show_keys(workspace: Workspace | None) -> dict:
    folder = keys_folder(workspace)
    try:
        credentials = load_development_keys(folder)
    except CredentialError as exc:
        raise RegistryError(str(exc)) from None
    return {
        "folder": str(folder),
        "development": True,
        "chain": describe(credentials.chain_pem),
        "trusted": [anchor.describe() for anchor in recorded_anchors()],
    }


def trust_workspace_ca(workspace: Workspace | None, certificate: Path | None = None) -> list[dict[str, str]]:
    """Record a CA in the user's trust store: the given PEM file, or the workspace's development CA."""
    if certificate is None:
        if workspace is None:
            raise RegistryError("not inside a workspace: give the CA certificate to trust (registry keys trust CA.pem)")
        certificate = keys_folder(workspace) / CA_CERT
        if not certificate.is_file():
            raise RegistryError(f"this workspace has no development CA yet ({certificate})")
    try:
        pem = Path(certificate).read_bytes()
    except OSError as exc:
        raise RegistryError(f"cannot read {certificate}: {exc.strerror or exc}") from None
    return [anchor.describe() for anchor in trust_certificate(pem, str(certificate))]


def create_publisher_keys(folder: Path, name: str, years: int = 10) -> dict[str, str]:
    """A publisher CA and model-signing certificate in a new folder (see `registry keys publisher`)."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise RegistryError(f"{folder} is not empty; publisher keys go into a new folder")
    if not name.strip() or has_hidden_characters(name) or not 1 <= years <= 30:
        raise RegistryError("--name must be printable text and --years between 1 and 30")
    make_publisher_keys(folder, name.strip(), years)
    ca_cert, _, chain, key = PUBLISHER_FILES
    return {
        "folder": str(folder),
        "ca_certificate": str(folder / ca_cert),
        "chain": str(folder / chain),
        "key": str(folder / key),
    }


def resolve_credentials(
    workspace: Workspace | None, cert: Path | None = None, key: Path | None = None, reporter: Reporter | None = None
) -> tuple[SigningCredentials, bool]:
    """Key and certificate files: --cert/--key, the environment, or the development keys (created if missing).

    Returns the credentials and whether development keys were just created.
    """
    reporter = reporter or Reporter()
    if cert or key:
        if not (cert and key):
            raise RegistryError("give both --cert and --key (or both environment variables)")
        return load_credentials(cert, key), False
    folder = keys_folder(workspace)
    if development_keys_exist(folder):
        credentials = load_development_keys(folder)
        if workspace is not None and not is_trusted(credentials.ca_pem):
            # Keys that came with a copied or downloaded workspace are someone else's: signing
            # with them would put this user's outputs under a CA the user never chose.
            raise RegistryError(
                f"the development keys in {folder} were not created by you and you do not trust their CA; "
                "if they are yours, run `registry keys trust`, else sign with --cert/--key"
            )
        return credentials, False
    credentials = create_keys(workspace)
    reporter.warn(f"created development signing keys in {folder} (not for production; see `registry keys show`)")
    return credentials, True


def _from_environment(cert: Path | None, key: Path | None) -> tuple[Path | None, Path | None]:
    cert = cert or (Path(os.environ[CERT_ENV]) if os.environ.get(CERT_ENV) else None)
    key = key or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    return cert, key


def resolve_signer(
    workspace: Workspace | None,
    cert: Path | None = None,
    key: Path | None = None,
    reporter: Reporter | None = None,
    tsa: str | None = None,
) -> ResolvedSigner:
    """The C2PA signer for outputs: a callback (HSM/KMS), key files, or development keys."""
    cert, key = _from_environment(cert, key)
    try:
        callback = callback_from_environment()
        if callback is not None:
            if cert is None:
                raise RegistryError(
                    "a signing callback needs the certificate chain: --cert or $PROVENOISE_SIGNING_CERT"
                )
            chain = cert.read_bytes()
            return ResolvedSigner(signer_from_callback(callback, chain, tsa), chain, f"callback with {cert}")
        credentials, created = resolve_credentials(workspace, cert, key, reporter)
        return ResolvedSigner(
            signer_from_credentials(credentials, tsa), credentials.chain_pem, credentials.origin, created
        )
    except (CredentialError, SigningError, OSError) as exc:
        raise RegistryError(f"cannot sign: {exc}") from None


def folder_credentials(
    workspace: Workspace | None, cert: Path | None = None, key: Path | None = None, reporter: Reporter | None = None
) -> SigningCredentials:
    """Credentials for signing a model folder: key files only (model-signing reads the key itself)."""
    cert, key = _from_environment(cert, key)
    try:
        return resolve_credentials(workspace, cert, key, reporter)[0]
    except (CredentialError, OSError) as exc:
        raise RegistryError(f"cannot sign: {exc}") from None


def credentials_summary(chain_pem: bytes) -> dict:
    """Subject, issuer and fingerprint of the signing certificate (never the key)."""
    leaf = describe(chain_pem)[0]
    return {key: leaf[key] for key in ("subject", "issuer", "sha256_fingerprint", "not_after")}
