"""Signing credentials: a development CA and signer, or production ones given as files.

C2PA needs an ES256 signing certificate issued by a CA (self-signed leaves are refused),
with the digitalSignature key usage and the emailProtection extended key usage. The
development pair made here is clearly named as such and trusted only where its CA is
added as a trust anchor. Private keys are written with mode 0600 and never printed.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "dev-ca.cert.pem"
CA_KEY = "dev-ca.key.pem"
SIGNER_CHAIN = "dev-signer.chain.pem"  # signer certificate, then the CA certificate
SIGNER_KEY = "dev-signer.key.pem"
DEVELOPMENT_FILES = (CA_CERT, CA_KEY, SIGNER_CHAIN, SIGNER_KEY)
# A publisher's pair signs model folders for others to use: named apart from development keys.
PUBLISHER_FILES = (
    "publisher-ca.cert.pem",
    "publisher-ca.key.pem",
    "publisher-signer.chain.pem",
    "publisher-signer.key.pem",
)
DEV_ORGANIZATION = "provenoise DEVELOPMENT credentials (not for production)"


class CredentialError(ValueError):
    """Credentials that are missing or unusable."""


@dataclass(frozen=True)
class SigningCredentials:
    chain_pem: bytes  # signer certificate first, then any intermediates / CA
    key_pem: bytes
    ca_pem: bytes | None  # the trust anchor to verify against, when known
    origin: str  # where the credentials came from, for messages


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
        ]
    )


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    return x509.KeyUsage(**(flags | enabled))


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private(path: Path, data: bytes) -> None:
    """Create (or replace) a file readable by its owner only: mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def create_development_keys(folder: Path, days: int = 365, keep_ca_key: bool = False) -> SigningCredentials:
    """A development CA and an ES256 signer it issued, written as PEM files in `folder`.

    The CA's private key is needed once, to issue the signer: it is not written unless
    `keep_ca_key` (a key on disk is a key that can leak and mint trusted signers).
    """
    create_ca_and_signer(
        folder,
        _name("provenoise development CA"),
        _name("provenoise development signer"),
        datetime.timedelta(days=days),
        ExtendedKeyUsageOID.EMAIL_PROTECTION,  # what C2PA validators accept for a manifest signer
        DEVELOPMENT_FILES,
        keep_ca_key,
    )
    return load_development_keys(folder)


def create_publisher_keys(folder: Path, publisher: str, years: int = 10) -> SigningCredentials:
    """A publisher CA and a model-signing certificate (code signing), for distributing model folders."""
    organization = x509.NameAttribute(NameOID.ORGANIZATION_NAME, publisher)
    create_ca_and_signer(
        folder,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{publisher} model publisher CA"), organization]),
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{publisher} model signer"), organization]),
        datetime.timedelta(days=365 * years),
        ExtendedKeyUsageOID.CODE_SIGNING,
        PUBLISHER_FILES,
    )
    ca_cert, _, chain, key = PUBLISHER_FILES
    return SigningCredentials(
        (folder / chain).read_bytes(), (folder / key).read_bytes(), (folder / ca_cert).read_bytes(), str(folder)
    )


def create_ca_and_signer(
    folder: Path,
    ca_name: x509.Name,
    signer_name: x509.Name,
    lifetime: datetime.timedelta,
    usage: x509.ObjectIdentifier,
    files: tuple[str, str, str, str],
    keep_ca_key: bool = True,
) -> None:
    """A CA and an ES256 signing certificate it issued, as PEM files in `folder` (keys 0600).

    `files` names the CA certificate, CA key, signer chain (signer, then CA) and signer key;
    without `keep_ca_key` the CA key is not written, and an older one there is removed.
    """
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + lifetime
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(signer_name)
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_cert, ca_key_file, chain, signer_key_file = files
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    if keep_ca_key:
        write_private(folder / ca_key_file, _private_pem(ca_key))
    else:
        (folder / ca_key_file).unlink(missing_ok=True)  # an older CA's key: it signs nothing trusted now
    write_private(folder / signer_key_file, _private_pem(signer_key))
    (folder / ca_cert).write_bytes(_pem(ca))
    (folder / chain).write_bytes(_pem(signer) + _pem(ca))


def development_keys_exist(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (CA_CERT, SIGNER_CHAIN, SIGNER_KEY))


def load_development_keys(folder: Path) -> SigningCredentials:
    if not development_keys_exist(folder):
        raise CredentialError(f"no development keys in {folder}; run `registry keys init`")
    return SigningCredentials(
        (folder / SIGNER_CHAIN).read_bytes(),
        (folder / SIGNER_KEY).read_bytes(),
        (folder / CA_CERT).read_bytes(),
        str(folder),
    )


def load_credentials(chain: Path, key: Path, ca: Path | None = None) -> SigningCredentials:
    """Production credentials from PEM files (certificate chain, private key, optional CA)."""
    try:
        chain_pem, key_pem = Path(chain).read_bytes(), Path(key).read_bytes()
        ca_pem = Path(ca).read_bytes() if ca else None
        certificates = x509.load_pem_x509_certificates(chain_pem)
        serialization.load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CredentialError(f"cannot use the signing credentials {chain} / {key}: {exc}") from None
    if not certificates:
        raise CredentialError(f"{chain} holds no certificate")
    return SigningCredentials(chain_pem, key_pem, ca_pem, f"{chain}")


def describe(pem: bytes) -> list[dict[str, str]]:
    """Subject, issuer, validity and SHA-256 fingerprint of each certificate in a PEM bundle."""
    return [
        {
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "not_before": certificate.not_valid_before_utc.isoformat(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
            "sha256_fingerprint": certificate.fingerprint(hashes.SHA256()).hex(),
            "serial": format(certificate.serial_number, "x"),
        }
        for certificate in x509.load_pem_x509_certificates(pem)
    ]
