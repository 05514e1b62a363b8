"""Trust only what the user chose (issue 9, capability 6): a downloaded folder carrying its own
`.registry/` CA does not make its forged files verify; `registry keys trust`, --trust and
$PROVENOISE_TRUST_CA do, and verify names the anchor that validated each file."""

import json

from provenance.anchors import anchors_from_pem
from provenance.keys import CA_CERT, create_development_keys
from registry.workspace import init_workspace
from tests.c2pa_files import signed_png
from tests.conftest import cli

FORGED_FACTS = {
    "run_id": "20261126-000000-000000",
    "model_name": "reference",
    "training_data": {"datasets": [{"name": "all-cc0", "licenses": {"CC0-1.0": 400}}], "consent": {"granted": 400}},
    "latest_audit": "IDENTICAL",
}


def forged_download(tmp_path):
    """A folder as an adversary would ship it: a workspace whose own CA signed a forged claim."""
    workspace, _ = init_workspace(tmp_path / "download")
    keys = workspace.registry_dir / "keys"
    credentials = create_development_keys(keys)  # made by someone else: this user never trusted it
    return workspace, signed_png(workspace.root / "forged.png", credentials, FORGED_FACTS), keys / CA_CERT


def verify_json(capsys, *args):
    code, out, _ = cli(capsys, "verify", *args, "--json")
    return code, json.loads(out)[0]


def test_a_ca_found_in_the_enclosing_folder_is_not_trusted(tmp_path, monkeypatch, capsys):
    workspace, forged, ca = forged_download(tmp_path)
    monkeypatch.chdir(workspace.root)
    code, report = verify_json(capsys, forged)
    assert code == 1 and report["reason"] == "untrusted signer" and report["anchor"] is None
    (anchor,) = anchors_from_pem(ca.read_bytes(), str(ca))
    assert report["notes"][-1] == (
        f"the workspace at {workspace.root} has its own CA (sha256 {anchor.fingerprint[:16]}...), which you have "
        "not chosen to trust; trust it (`registry keys trust`) only if you made it or know who did: a CA that "
        "came with a download vouches for nothing"
    )
    code, out, _ = cli(capsys, "verify", forged)
    assert code == 1 and out.startswith("FAIL")


def test_keys_trust_records_a_ca_and_verify_names_it(tmp_path, monkeypatch, capsys):
    workspace, forged, ca = forged_download(tmp_path)
    monkeypatch.chdir(workspace.root)
    code, out, err = cli(capsys, "keys", "trust", "--json")  # this workspace's CA, by the user's explicit choice
    assert code == 0, err
    (trusted,) = json.loads(out)
    code, report = verify_json(capsys, forged)
    assert code == 0 and report["anchor"]["sha256_fingerprint"] == trusted["sha256_fingerprint"]
    assert report["anchor"]["label"].startswith("trusted in your config")
    code, out, _ = cli(capsys, "keys", "show", "--json")
    assert trusted["sha256_fingerprint"] in {a["sha256_fingerprint"] for a in json.loads(out)["trusted"]}


def test_trust_flag_and_environment_name_their_anchor(tmp_path, monkeypatch, capsys):
    _, forged, ca = forged_download(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, report = verify_json(capsys, forged, "--trust", ca)
    assert code == 0 and report["anchor"]["label"] == f"--trust {ca}"
    monkeypatch.setenv("PROVENOISE_TRUST_CA", str(ca))
    code, report = verify_json(capsys, forged)
    assert code == 0 and report["anchor"]["label"].startswith("$PROVENOISE_TRUST_CA")


def test_keys_created_by_this_users_command_are_trusted_by_this_user_only(workspace, tmp_path, monkeypatch, capsys):
    code, _, err = cli(capsys, "keys", "init")
    assert code == 0, err
    code, out, _ = cli(capsys, "keys", "show", "--json")
    info = json.loads(out)
    assert info["chain"][1]["sha256_fingerprint"] in {a["sha256_fingerprint"] for a in info["trusted"]}
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "another-user"))
    code, out, _ = cli(capsys, "keys", "show", "--json")
    assert json.loads(out)["trusted"] == []


def test_bad_trust_input_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-cert.pem").write_text("hello")
    code, _, err = cli(capsys, "keys", "trust", tmp_path / "not-a-cert.pem")
    assert code == 2 and "not a PEM certificate" in err or "holds no certificate" in err
    code, _, err = cli(capsys, "keys", "trust")
    assert code == 2 and "not inside a workspace" in err


def test_denoise_will_not_sign_with_keys_that_came_with_a_download(signed_model, tmp_path, monkeypatch, capsys):
    workspace, _, _ = forged_download(tmp_path)
    monkeypatch.chdir(workspace.root)
    noisy = signed_png(tmp_path / "photo.png", create_development_keys(tmp_path / "camera"))
    model = [signed_model.folder, "--trust", signed_model.ca]
    code, _, err = cli(capsys, "denoise", model[0], noisy, "--out", "out", "--sigma", 25, *model[1:])
    assert code == 2 and "not created by you" in err and "registry keys trust" in err
    assert not (workspace.root / "out").exists()
    code, _, err = cli(capsys, "keys", "trust")  # the user's explicit choice: these keys are theirs
    assert code == 0, err
    code, _, err = cli(capsys, "denoise", model[0], noisy, "--out", "out", "--sigma", 25, *model[1:])
    assert code == 0, err
