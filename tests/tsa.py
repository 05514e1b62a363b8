"""A small RFC 3161 time-stamp authority for tests and benchmarks: `openssl ts -reply` behind
an HTTP server on 127.0.0.1, with its own CA (pass `ca_pem` as a trust anchor), and
signing credentials whose certificate expires within seconds."""

from __future__ import annotations

import datetime
import http.server
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.keys import SIGNER_CHAIN, SIGNER_KEY, create_development_keys

OPENSSL_TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {folder}
serial = $dir/serial
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass
class TimeStampAuthority:
    url: str
    ca_pem: Path  # trust this to trust its time-stamps


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _certificate(subject: str, issuer: x509.Name, key, issuer_key, *, ca: bool, days: int = 30) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        builder = (
            builder.add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_authority(folder: Path) -> Path:
    """A TSA CA, a time-stamping certificate and an `openssl ts` configuration in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test time-stamp CA")])
    ca = _certificate("test time-stamp CA", ca_name, ca_key, ca_key, ca=True)
    leaf = _certificate("test time-stamp authority", ca_name, key, ca_key, ca=False)
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "tsa.pem").write_bytes(_pem(leaf))
    (folder / "chain.pem").write_bytes(_pem(leaf) + _pem(ca))
    (folder / "tsa.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(OPENSSL_TSA_CONFIG.format(folder=folder))
    return folder


def _handler(folder: Path) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()  # openssl increments one serial file

    class Reply(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with tempfile.TemporaryDirectory() as scratch, lock:
                request, response = Path(scratch, "query.tsq"), Path(scratch, "reply.tsr")
                request.write_bytes(query)
                command = ["openssl", "ts", "-reply", "-config", str(folder / "tsa.cnf")]
                done = subprocess.run(
                    [*command, "-queryfile", str(request), "-out", str(response)], capture_output=True
                )
                body = response.read_bytes() if done.returncode == 0 else b""
            self.send_response(200 if body else 400)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Reply


@contextmanager
def running_authority(folder: Path) -> Iterator[TimeStampAuthority]:
    make_authority(folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TimeStampAuthority(f"http://127.0.0.1:{server.server_port}/", folder / "ca.pem")
    finally:
        server.shutdown()
        server.server_close()


def short_lived_keys(folder: Path, seconds: float) -> tuple[Path, Path, Path]:
    """Development keys whose signing certificate expires `seconds` from now: (chain, key, CA)."""
    create_development_keys(folder, keep_ca_key=True)  # this test CA issues a second signer
    ca_key = serialization.load_pem_private_key((folder / "dev-ca.key.pem").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((folder / "dev-ca.cert.pem").read_bytes())
    old = x509.load_pem_x509_certificates((folder / SIGNER_CHAIN).read_bytes())[0]
    key = serialization.load_pem_private_key((folder / SIGNER_KEY).read_bytes(), None)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(seconds=seconds))
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    (folder / SIGNER_CHAIN).write_bytes(_pem(builder.sign(ca_key, hashes.SHA256())) + _pem(ca))
    return folder / SIGNER_CHAIN, folder / SIGNER_KEY, folder / "dev-ca.cert.pem"
