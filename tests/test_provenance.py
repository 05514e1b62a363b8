"""Signed outputs verify; each kind of tampering fails with its own reason; consent flows
into training-mining; keys stay private."""

import json
import stat
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from provenance.keys import create_development_keys
from registry.datasets import set_consent
from registry.models import Output
from registry.runs import show_run
from registry.workspace import update_settings
from tests import signing_callback
from tests.conftest import cli, synthetic_image


@pytest.fixture
def workspace(trained_workspace):
    """This module's tests start after training: a copy of a trained workspace (conftest)."""
    return trained_workspace.workspace


@pytest.fixture
def signed(trained_workspace, tmp_path, capsys):
    """A trained run, one noisy input, and its signed output (with the keys made when the run ended)."""
    run_id = trained_workspace.run_id
    noisy = tmp_path / "noisy.png"
    Image.fromarray(synthetic_image(7, size=48)).save(noisy)
    code, out, err = cli(capsys, "denoise", run_id, noisy, "--out", "signed", "--sigma", 25, "--json")
    assert code == 0, err
    return run_id, noisy, trained_workspace.workspace.root / "signed" / "noisy.png", json.loads(out)


def verify(capsys, *files, trust=()):
    args = [a for ca in trust for a in ("--trust", ca)]
    code, out, err = cli(capsys, "verify", *files, *args, "--json")
    return code, json.loads(out) if out else err


def test_signed_output_verifies_and_matches_the_registry(workspace, signed, capsys):
    run_id, _, output, result = signed
    assert result["outputs"][0]["signed"]
    code, (report,) = verify(capsys, output)
    assert code == 0 and report["ok"] and report["reason"] == "ok"
    assert report["run"] == run_id and report["signed_by"] == "provenoise development signer"
    assert report["trained_on"] == ["tiny (CC0-1.0)"] and report["training_mining"] == "notAllowed"
    assert any("final checkpoint match" in note for note in report["notes"])
    with workspace.store().reader() as session:
        recorded = session.scalars(select(Output)).one()
    assert recorded.signed and recorded.manifest["lineage"]["run_id"] == run_id
    assert recorded.manifest["lineage"]["checkpoint_sha256"] == show_run(workspace, run_id).checkpoints[-1].sha256


def corrupt(path, marker, offset, out):
    data = bytearray(path.read_bytes())
    data[data.index(marker) + offset] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def test_each_kind_of_tampering_has_its_own_reason(workspace, signed, tmp_path, capsys):
    run_id, noisy, output, _ = signed
    pixels = corrupt(output, b"IDAT", 12, tmp_path / "pixels.png")
    manifest = corrupt(output, b"org.provenoise.lineage", 40, tmp_path / "manifest.png")
    reencoded = tmp_path / "reencoded.png"
    Image.open(output).save(reencoded)
    code, reports = verify(capsys, pixels, manifest, reencoded, noisy)
    assert code == 1
    reasons = [r["reason"] for r in reports]
    assert reasons[0] == "pixels changed"
    assert reasons[1].startswith("manifest changed")
    assert reasons[2] == "re-encoded (manifest stripped)"
    assert f"its pixels are those of signed output signed/noisy.png (run {run_id})" in reports[2]["notes"]
    assert reasons[3] == "no manifest"


def test_only_signed_outputs_are_recognised_in_stripped_files(workspace, signed, tmp_path, capsys):
    # An unsigned output (--no-sign) vouches for nothing: a copy of its pixels is just unsigned.
    # (Another picture: the signed fixture's pixels would rightly be recognised.)
    run_id = signed[0]
    other = tmp_path / "other.png"
    Image.fromarray(synthetic_image(8, size=48)).save(other)
    code, _, err = cli(capsys, "denoise", run_id, other, "--out", "unsigned", "--sigma", 25, "--no-sign")
    assert code == 0, err
    unsigned = workspace.root / "unsigned" / "other.png"
    with workspace.store().reader() as session:
        assert not session.scalars(select(Output).where(Output.output_path == "unsigned/other.png")).one().signed
    code, (report,) = verify(capsys, unsigned)
    assert code == 1 and report["reason"] == "no manifest" and report["notes"] == []


def test_a_signature_from_another_ca_is_untrusted(workspace, signed, tmp_path, capsys):
    run_id, noisy, _, _ = signed
    other = create_development_keys(tmp_path / "elsewhere")
    cert, key = tmp_path / "elsewhere" / "dev-signer.chain.pem", tmp_path / "elsewhere" / "dev-signer.key.pem"
    code, _, err = cli(capsys, "denoise", run_id, noisy, "--out", "other", "--sigma", 25, "--cert", cert, "--key", key)
    assert code == 0, err
    code, (report,) = verify(capsys, workspace.root / "other" / "noisy.png")
    assert code == 1 and report["reason"] == "untrusted signer"
    code, (report,) = verify(
        capsys, workspace.root / "other" / "noisy.png", trust=[tmp_path / "elsewhere" / "dev-ca.cert.pem"]
    )
    assert code == 0 and report["ok"], report
    assert other.origin.endswith("elsewhere")


def test_withdrawn_training_consent_makes_new_outputs_not_allowed(workspace, signed, capsys):
    run_id, noisy, _, _ = signed
    update_settings(workspace.root, training_mining="allowed")
    code, out, err = cli(capsys, "denoise", run_id, noisy, "--out", "allowed", "--sigma", 25, "--json")
    assert json.loads(out)["outputs"][0]["training_mining"] == "allowed"
    trained_on = next(m.image_key for m in show_run(workspace, run_id).splits if m.role == "train")
    set_consent(workspace, trained_on, "withdrawn", "asked")
    code, out, err = cli(capsys, "denoise", run_id, noisy, "--out", "after", "--sigma", 25, "--json")
    assert json.loads(out)["outputs"][0]["training_mining"] == "notAllowed"
    code, (report,) = verify(capsys, workspace.root / "after" / "noisy.png")
    assert report["training_mining"] == "notAllowed"


def test_jpeg_outputs_and_inputs_that_carry_a_manifest(workspace, signed, capsys):
    run_id, _, output, _ = signed
    code, _, err = cli(capsys, "denoise", run_id, output, "--out", "again", "--sigma", 15, "--format", "jpeg")
    assert code == 0, err
    again = workspace.root / "again" / "noisy.jpg"
    code, (report,) = verify(capsys, again)
    assert code == 0 and report["ok"]
    from provenance.verification import verify_image

    (ingredient,) = verify_image(again, []).ingredients
    assert ingredient["relationship"] == "parentOf" and "active_manifest" in ingredient


def test_thumbnail_is_opt_in(workspace, signed, capsys):
    run_id, noisy, output, _ = signed
    code, _, _ = cli(capsys, "denoise", run_id, noisy, "--out", "thumb", "--sigma", 25, "--thumbnail")
    assert code == 0
    assert (workspace.root / "thumb" / "noisy.png").stat().st_size > output.stat().st_size + 10_000


def test_callback_signer(workspace, signed, monkeypatch, capsys):
    run_id, noisy, _, _ = signed
    keys = workspace.root / ".registry" / "keys"
    monkeypatch.setenv("PROVENOISE_SIGNER_CALLBACK", "tests.signing_callback:sign")
    monkeypatch.setenv("PROVENOISE_TEST_SIGNING_KEY", str(keys / "dev-signer.key.pem"))
    signing_callback.CALLS.clear()
    code, _, err = cli(
        capsys, "denoise", run_id, noisy, "--out", "hsm", "--sigma", 25, "--cert", keys / "dev-signer.chain.pem"
    )
    assert code == 0, err
    assert signing_callback.CALLS
    code, (report,) = verify(capsys, workspace.root / "hsm" / "noisy.png")
    assert code == 0 and report["ok"]


def test_keys_are_private_and_never_printed(workspace, signed, tmp_path, capsys):
    keys = workspace.root / ".registry" / "keys"
    assert stat.S_IMODE((keys / "dev-signer.key.pem").stat().st_mode) == 0o600
    assert not (keys / "dev-ca.key.pem").exists()  # used once to issue the signer, never written
    secrets = [line for line in (keys / "dev-signer.key.pem").read_text().splitlines()[1:-1]]
    seen = []
    for argv in (
        ["keys", "show"],
        ["keys", "show", "--json"],
        ["verify", signed[2], "--json"],
        ["runs", "show", signed[0], "--json"],
    ):
        code, out, err = cli(capsys, *argv)
        seen.append(out + err)
    seen.append(signed[2].read_bytes().decode("latin-1"))
    seen.append(json.dumps(signed[3]))
    for text in seen:
        assert "PRIVATE KEY" not in text
        assert not any(secret in text for secret in secrets)
    code, _, err = cli(capsys, "keys", "init")
    assert code == 2 and "already exist" in err


def test_development_ca_key_is_kept_only_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)  # outside any workspace: the user's own keys folder
    assert cli(capsys, "keys", "init")[0] == 0
    keys = tmp_path / "config" / "provenoise" / "keys"
    assert (keys / "dev-signer.key.pem").is_file() and not (keys / "dev-ca.key.pem").exists()
    code, out, _ = cli(capsys, "keys", "init", "--force", "--keep-ca", "--json")
    assert code == 0 and json.loads(out)["ca_key_kept"] is True
    assert stat.S_IMODE((keys / "dev-ca.key.pem").stat().st_mode) == 0o600
    assert cli(capsys, "keys", "init", "--force")[0] == 0  # new keys: the old CA's key goes too
    assert not (keys / "dev-ca.key.pem").exists()


def test_verify_usage_errors(workspace, capsys):
    code, _, err = cli(capsys, "verify", "missing.png")
    assert code == 2 and "no such file" in err


def test_signed_outputs_validate_in_an_independent_implementation(workspace, signed, tmp_path, capsys):
    """c2pa-ts (pure TypeScript, no code shared with the Rust library we sign with)."""
    import subprocess

    run_id, noisy, output, _ = signed
    code, _, _ = cli(capsys, "denoise", run_id, noisy, "--out", "jpeg", "--sigma", 25, "--format", "jpeg")
    tampered = corrupt(output, b"IDAT", 12, tmp_path / "tampered.png")
    interop = Path(__file__).parent / "interop"
    files = [output, workspace.root / "jpeg" / "noisy.jpg", tampered]
    done = subprocess.run(["node", "verify.mjs", *map(str, files)], cwd=interop, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    png, jpeg, bad = json.loads(done.stdout)
    for good in (png, jpeg):
        assert (
            good["valid"]
            and "assertion.dataHash.match" in good["codes"]
            and "claimSignature.validated" in good["codes"]
        )
    assert not bad["valid"] and "assertion.dataHash.mismatch" in bad["codes"]


def test_the_anchor_named_is_the_one_the_signer_chains_to(tmp_path):
    """With several trusted CAs, a verification names the CA that issued the signer, whatever
    the order they were given in (a mutation run found the choice unchecked)."""
    from provenance.anchors import anchors_from_pem
    from provenance.keys import CA_CERT, create_development_keys
    from provenance.verification import verify_image
    from tests.c2pa_files import signed_png

    signer = create_development_keys(tmp_path / "signer")
    create_development_keys(tmp_path / "other")
    image = signed_png(tmp_path / "signed.png", signer)
    own, other = (anchors_from_pem((tmp_path / name / CA_CERT).read_bytes(), name) for name in ("signer", "other"))
    for anchors in (other + own, own + other):
        verification = verify_image(image, anchors)
        assert verification.ok and verification.anchor == own[0].describe(), verification.reason
    assert not verify_image(image, other).ok


@pytest.fixture
def own_keys(tmp_path):
    """(signing credentials, the anchors that trust them): a signer the verifier trusts."""
    from provenance.anchors import anchors_from_pem
    from provenance.keys import CA_CERT

    credentials = create_development_keys(tmp_path / "keys")
    return credentials, anchors_from_pem((tmp_path / "keys" / CA_CERT).read_bytes(), "own")


@pytest.mark.parametrize(
    "break_store, reason",
    [
        (lambda store: store[: len(store) // 2], r"manifest changed: \w+: [^\n]*(box|JUMBF)[^\n]*"),
        (lambda store: b"\xff" * 16 + store[16:], r"manifest changed: \w+: [^\n]*(box|JUMBF)[^\n]*"),
        (lambda store: b"", "no manifest"),
    ],
    ids=["cut-in-half", "overwritten-header", "emptied"],
)
def test_a_broken_manifest_store_fails_with_the_readers_reason(own_keys, tmp_path, break_store, reason):
    """A manifest store the C2PA reader cannot parse is a failed verification with the reader's
    own first line, never a crash and never ok (a mutation run found this path untested)."""
    import re

    from provenance.verification import verify_image
    from tests.c2pa_files import rewrite_manifest_store, signed_png

    credentials, anchors = own_keys
    signed = signed_png(tmp_path / "signed.png", credentials)
    broken = rewrite_manifest_store(signed, tmp_path / "broken.png", break_store)
    verification = verify_image(broken, anchors)
    assert (verification.path, verification.ok) == (broken, False)
    assert re.fullmatch(reason, verification.reason), verification.reason
    assert verification.anchor is None


def test_a_valid_signature_over_a_malformed_lineage_names_no_anchor(own_keys, tmp_path):
    """The signature chains to a trusted CA, but the file fails on its content: no CA is
    named as having validated it."""
    from provenance.verification import verify_image
    from tests.c2pa_files import signed_png

    credentials, anchors = own_keys
    crafted = signed_png(tmp_path / "crafted.png", credentials, facts={"sigma": "25"})
    verification = verify_image(crafted, anchors)
    assert not verification.ok and verification.reason == "malformed lineage assertion: sigma should be a valid number"
    assert verification.anchor is None


def test_a_format_that_cannot_carry_a_manifest_is_named(tmp_path):
    from provenance.signing import SigningError
    from provenance.verification import verify_image

    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(SigningError) as refused:
        verify_image(tmp_path / "notes.txt", [])
    assert str(refused.value) == "notes.txt: not an image format that can carry a C2PA manifest"


def test_a_verify_report_says_what_the_manifest_and_the_checks_said_field_by_field():
    """`verify --json` is what a reviewer reads: each field from its own source, nothing mixed up."""
    from provenance.verification import Verification
    from registry.verifying import FileReport

    lineage = {
        "run_id": "run-1",
        "model_name": "unet",
        "claims": "verified",
        "checkpoint_sha256": "c" * 64,
        "training_data": {
            "datasets": [{"name": "photos", "licenses": {"CC0-1.0": 3, "CC-BY-4.0": 1}}, "not a dataset"],
            "consent": {"granted": 4},
        },
        "latest_audit": "IDENTICAL",
        "input": {"sha256": "i" * 64},
        "sigma": 25.0,
        "channels": {"input": 3, "output": 3, "model": 3, "mode": "colour"},
    }
    signer = {"common_name": "a signer", "issuer": "a CA", "time": "2026-12-07T10:00:00+00:00"}
    verification = Verification(Path("out.png"), True, "ok", "Trusted", signer=signer, time_stamp="trusted")
    verification.lineage, verification.training_mining = lineage, "notAllowed"
    verification.training_mining_entries = {"cawg.ai_training": {"use": "notAllowed"}}
    anchor = {"label": "trusted in your config", "subject": "CN=a CA", "sha256_fingerprint": "f" * 64}
    report = FileReport(Path("out.png"), True, "ok", verification, ["a note"], anchor=anchor, registry="checked (r)")
    report.withdrawal_list = {"status": "not listed"}
    assert report.summary() == {
        "file": "out.png",
        "kind": "image",
        "ok": True,
        "unreadable": False,
        "reason": "ok",
        "signed_by": "a signer",
        "issuer": "a CA",
        "anchor": anchor,
        "time_stamp": "trusted",
        "signed_at": "2026-12-07T10:00:00+00:00",
        "run": "run-1",
        "model": "unet",
        "model_claims": "verified",
        "checkpoint_sha256": "c" * 64,
        "trained_on": ["photos (CC0-1.0, CC-BY-4.0)"],
        "consent": {"granted": 4},
        "latest_audit": "IDENTICAL",
        "training_mining": "notAllowed",
        "training_mining_entries": {"cawg.ai_training": {"use": "notAllowed"}},
        "input": {"sha256": "i" * 64},
        "sigma": 25.0,
        "channels": lineage["channels"],
        "registry": "checked (r)",
        "withdrawn_training_data": None,
        "withdrawal_list": {"status": "not listed"},
        "notes": ["a note"],
    }
    verification.lineage = {"training_data": ["not a mapping"]}
    assert (report.summary()["trained_on"], report.summary()["consent"]) == ([], None)

    folder = FileReport(Path("model"), False, "altered: x", kind="model folder", folder_signer="CN=publisher")
    summary = folder.summary()
    assert (summary["file"], summary["kind"], summary["signed_by"], summary["reason"]) == (
        "model",
        "model folder",
        "CN=publisher",
        "altered: x",
    )
    absent = ["issuer", "time_stamp", "signed_at", "run", "model", "training_mining", "input", "sigma"]
    assert [summary[key] for key in absent] == [None] * len(absent)
    assert (summary["trained_on"], summary["training_mining_entries"], summary["registry"]) == ([], {}, "not checked")


SELF_DECLARED_NOTE = (
    "model claims SELF-DECLARED: its folder was used unverified ({}); its training data, licences and audit are "
    "the folder's own word"
)


@pytest.mark.parametrize(
    "lineage, entries, notes",
    [
        (
            {"claims": "verified", "model_signature": {"signer": {"subject": "CN=publisher"}}},
            {},
            ["model claims verified: its folder was signed by CN=publisher"],
        ),
        ({"claims": "verified"}, {}, ["model claims verified: its folder was signed by unknown"]),
        (
            {"claims": "self-declared", "model_signature": {"status": "altered"}},
            {},
            [SELF_DECLARED_NOTE.format("altered")],
        ),
        ({"claims": "self-declared"}, {}, [SELF_DECLARED_NOTE.format("unknown")]),
        (
            {"input": {"manifest": "trusted", "signer": {"common_name": "a camera"}}},
            {"a": None, "b": {"use": "constrained"}},
            [
                "input was signed by a camera, trusted by the denoiser's user",
                "training/mining 'constrained' counts as notAllowed without the rights holder's terms",
            ],
        ),
        (
            {"input": {"manifest": "untrusted signer"}},
            {"a": {"use": "allowed"}},
            ["input was signed by an unknown signer: untrusted signer"],
        ),
        ({"input": {"manifest": "none"}}, {}, []),
        (
            {"input": {"manifest": "pixels changed", "accepted_invalid": True, "reason": "pixels changed"}},
            {},
            ["INPUT FAILED VERIFICATION (pixels changed) and was accepted with --accept-invalid-input"],
        ),
    ],
    ids=[
        "verified",
        "verified-no-signer",
        "self-declared",
        "self-declared-no-status",
        "trusted-input",
        "untrusted-input",
        "unsigned-input",
        "accepted-invalid",
    ],
)
def test_what_verify_notes_of_the_model_and_the_input(lineage, entries, notes):
    from provenance.verification import Verification
    from registry.verifying import FileReport, _describe_claims

    verification = Verification(Path("out.png"), True, "ok", lineage=lineage, training_mining_entries=entries)
    report = FileReport(Path("out.png"), True, "ok", verification)
    _describe_claims(verification, report)
    assert report.notes == notes
