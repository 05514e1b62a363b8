"""Time-stamped signatures (issue 9, capability 8): an output signed while its certificate was
valid, with an RFC 3161 time-stamp, still verifies after the certificate expires; without
one, verify says "certificate expired". The TSA is `openssl ts -reply` on 127.0.0.1."""

import json
import time

import pytest

from provenance.anchors import anchors_from_pem
from provenance.verification import verify_image
from tests.c2pa_files import plain_png
from tests.conftest import cli
from tests.tsa import running_authority, short_lived_keys

LIFETIME = 6.0  # seconds: long enough to sign both outputs, short enough to wait out


@pytest.fixture
def authority(tmp_path):
    with running_authority(tmp_path / "tsa") as tsa:
        yield tsa


def test_a_time_stamp_outlives_the_certificate(signed_model, authority, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    chain, key, ca = short_lived_keys(tmp_path / "short", LIFETIME)
    expires = time.time() + LIFETIME
    noisy = plain_png(tmp_path / "noisy.png")
    common = [signed_model.folder, noisy, "--sigma", 25, "--trust", signed_model.ca, "--cert", chain, "--key", key]
    code, _, err = cli(capsys, "denoise", *common, "--out", "stamped", "--tsa-url", authority.url)
    assert code == 0, err
    code, _, err = cli(capsys, "denoise", *common, "--out", "plain")
    assert code == 0, err
    assert time.time() < expires, "signing took longer than the certificate's lifetime; raise LIFETIME"
    time.sleep(max(0.0, expires - time.time()) + 1.0)

    trust = ["--trust", ca, "--trust", authority.ca_pem]
    code, out, _ = cli(capsys, "verify", "stamped/noisy.png", "plain/noisy.png", *trust, "--json")
    stamped, plain = json.loads(out)
    assert code == 1
    assert stamped["ok"] and stamped["time_stamp"] == "trusted" and stamped["signed_at"]
    assert f"time-stamped {stamped['signed_at']} by a trusted authority" in stamped["notes"]
    assert not plain["ok"] and plain["reason"] == "certificate expired"
    code, out, _ = cli(capsys, "verify", "stamped/noisy.png", "--trust", ca, "--json")  # not the authority
    (stamped,) = json.loads(out)
    assert code == 1 and stamped["time_stamp"] == "untrusted"
    assert "carries a time-stamp whose authority you do not trust" in stamped["notes"]


def test_a_time_stamp_from_an_untrusted_authority_does_not_help(authority, tmp_path):
    """The same expired signature, checked without trusting the TSA: the expiry is the reason."""
    from provenance.keys import load_credentials
    from tests.c2pa_files import signed_png_with_tsa

    chain, key, ca = short_lived_keys(tmp_path / "short", 2.0)
    path = signed_png_with_tsa(tmp_path / "stamped.png", load_credentials(chain, key), authority.url)
    time.sleep(3.0)
    anchors = anchors_from_pem(ca.read_bytes(), "test CA")
    untrusted_tsa = verify_image(path, anchors)
    assert untrusted_tsa.reason == "certificate expired" and untrusted_tsa.time_stamp == "untrusted"
    trusted_tsa = verify_image(path, anchors + anchors_from_pem(authority.ca_pem.read_bytes(), "TSA"))
    assert trusted_tsa.ok and trusted_tsa.time_stamp == "trusted"


def test_the_workspace_setting_time_stamps_every_signature(workspace, signed_model, authority, tmp_path, capsys):
    code, out, err = cli(capsys, "config", "set", "tsa-url", authority.url, "--json")
    assert code == 0 and json.loads(out)["value"] == authority.url, err
    code, _, err = cli(
        capsys,
        "denoise",
        signed_model.folder,
        plain_png(tmp_path / "noisy.png"),
        "--out",
        "out",
        "--sigma",
        25,
        "--trust",
        signed_model.ca,
    )
    assert code == 0, err
    code, out, _ = cli(capsys, "verify", "out/noisy.png", "--trust", authority.ca_pem, "--json")
    assert code == 0 and json.loads(out)[0]["time_stamp"] == "trusted"
    code, _, err = cli(capsys, "config", "set", "tsa-url", "ftp://nope")
    assert code == 2 and "http(s) URL" in err
