"""Model folders are believed only when their signature verifies against an anchor the user
chose (issue 9, capability 1): a relabelled, unsigned, untrusted or symlinked folder is
refused, or used with --unverified-model and its claims marked self-declared; a folder
naming a run of this registry must carry that run's weights."""

import json
import shutil
from pathlib import Path

import pytest

from provenance.keys import CA_CERT, SIGNER_CHAIN, SIGNER_KEY, create_development_keys
from registry.runs import show_run
from registry.tracking import train_run
from tests.c2pa_files import plain_png
from tests.conftest import cli

LINK_REFUSAL = "is a symbolic link; a model folder's files must be the files themselves"

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Outputs land in the test's folder (the `workspace` fixture moves on into its workspace)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def folder(signed_model, tmp_path):
    """A private copy of the signed model folder, safe to tamper with."""
    return Path(shutil.copytree(signed_model.folder, tmp_path / "model"))


def denoise(capsys, model, *extra, out="out", tmp_path=None):
    image = plain_png((tmp_path or Path(".")) / "in" / "noisy.png")
    return cli(capsys, "denoise", model, image, "--out", out, "--sigma", 25, "--json", *extra)


def own_registry(signed_model) -> list:
    """--db naming the registry the signed model was trained in."""
    return ["--db", f"sqlite:///{signed_model.folder.parent / 'ws.db'}"]


def sign_record_as_is(folder: Path, keys: Path, **changes) -> None:
    """Change the folder's record and sign it unchecked, as a publisher's own tools could
    (`models sign` checks the record first and would refuse it)."""
    from provenance.keys import load_development_keys
    from provenance.model_signatures import sign_folder

    record = json.loads((folder / "provenoise-model.json").read_text())
    (folder / "provenoise-model.json").write_text(json.dumps({**record, **changes}))
    sign_folder(folder, load_development_keys(keys))


def relabel(folder: Path) -> None:
    """What an adversary edits: a permissive licence, granted consent, a clean audit."""
    meta = json.loads((folder / "provenoise-model.json").read_text())
    for dataset in meta["training_data"]["datasets"]:
        dataset["licenses"] = {"CC0-1.0": dataset["images_used"]}
    meta["training_data"]["licenses"] = ["CC0-1.0"]
    meta["training_data"]["consent"] = {"granted": sum(d["images_used"] for d in meta["training_data"]["datasets"])}
    meta["latest_audit"] = "IDENTICAL"
    (folder / "provenoise-model.json").write_text(json.dumps(meta))


def test_a_trusted_signed_folder_is_used_and_its_claims_are_marked_verified(signed_model, tmp_path, capsys):
    code, out, err = denoise(capsys, signed_model.folder, "--trust", signed_model.ca, tmp_path=tmp_path)
    assert code == 0, err
    assert json.loads(out)["model_claims"] == "verified"
    code, out, _ = cli(capsys, "verify", "out/noisy.png", "--json")
    (report,) = json.loads(out)
    assert code == 0 and report["model_claims"] == "verified"


def test_a_relabelled_folder_is_refused_and_only_self_declared_with_the_override(
    folder, signed_model, capsys, tmp_path
):
    relabel(folder)
    code, _, err = denoise(capsys, folder, "--trust", signed_model.ca, tmp_path=tmp_path)
    assert code == 2 and "altered" in err and "--unverified-model" in err and len(err.strip().splitlines()) == 1
    assert not Path("out").exists()
    code, out, _ = cli(capsys, "verify", folder, "--trust", signed_model.ca, "--json")
    assert code == 1 and json.loads(out)[0]["reason"].startswith("altered")

    code, out, err = denoise(capsys, folder, "--trust", signed_model.ca, "--unverified-model", tmp_path=tmp_path)
    assert code == 0, err
    assert json.loads(out)["model_claims"] == "self-declared"
    code, out, _ = cli(capsys, "verify", "out/noisy.png", "--json")
    (report,) = json.loads(out)
    assert report["ok"] and report["model_claims"] == "self-declared"
    assert any("SELF-DECLARED" in note for note in report["notes"])
    # A self-declared model cannot make its output's rights looser than "not allowed".
    assert report["training_mining"] == "notAllowed"
    code, out, _ = cli(capsys, "verify", "out/noisy.png")
    assert "SELF-DECLARED" in out


def test_an_unsigned_folder_and_an_untrusted_publisher_are_refused(folder, signed_model, capsys, tmp_path):
    code, _, err = denoise(capsys, folder, tmp_path=tmp_path)  # its publisher's CA was never trusted
    assert code == 2 and "untrusted signer" in err
    (folder / "model.sig").unlink()
    code, _, err = denoise(capsys, folder, "--trust", signed_model.ca, tmp_path=tmp_path)
    assert code == 2 and err.splitlines()[-1] == (
        f"error: model folder {folder}: unsigned (no model.sig in the folder); its claims cannot be believed. "
        "Trust its publisher's CA (--trust CA.pem or `registry keys trust CA.pem`), or pass --unverified-model to "
        "use it anyway with its claims marked self-declared"
    )
    code, out, _ = cli(capsys, "verify", folder, "--json")
    assert code == 1 and json.loads(out)[0]["reason"].startswith("unsigned")


def test_an_added_file_breaks_the_signature(folder, signed_model, capsys, tmp_path):
    (folder / "NOTES.md").write_text("trained on CC0 data only")
    code, _, err = denoise(capsys, folder, "--trust", signed_model.ca, tmp_path=tmp_path)
    assert code == 2 and err.splitlines()[-1].startswith(
        f"error: model folder {folder}: altered ([\"Extra files found in model 'model': NOTES.md\"]); its claims "
    )


def test_a_symlinked_weights_file_is_never_read(folder, signed_model, capsys, tmp_path):
    real = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / "model.safetensors", real)
    (folder / "model.safetensors").symlink_to(real)
    for extra in ([], ["--unverified-model"]):
        code, _, err = denoise(capsys, folder, "--trust", signed_model.ca, *extra, tmp_path=tmp_path)
        assert code == 2, err
        assert err.splitlines()[-1] == f"error: {folder / 'model.safetensors'} {LINK_REFUSAL}"


def test_the_committed_reference_model_is_signed_by_a_shipped_publisher(tmp_path, capsys):
    code, out, err = cli(capsys, "verify", ROOT / "models" / "reference", "--json")
    (report,) = json.loads(out)
    assert code == 0, report
    assert report["kind"] == "model folder" and report["anchor"]["label"].startswith("publisher list")
    code, out, err = denoise(capsys, ROOT / "models" / "reference", tmp_path=tmp_path)
    assert code == 0, err
    assert json.loads(out)["model_claims"] == "verified"


def test_a_folder_naming_a_run_of_this_registry_must_carry_its_weights(
    workspace, tiny_config, signed_model, folder, tmp_path, capsys
):
    own_run = train_run(workspace, tiny_config, ["train.seed=5"])  # same seed would give the same bytes
    meta = json.loads((folder / "provenoise-model.json").read_text())
    meta["run_id"] = own_run  # borrow a real run's name (and its records) for other weights
    (folder / "provenoise-model.json").write_text(json.dumps(meta))
    create_development_keys(tmp_path / "impostor")  # a key the user trusts, signing the borrowed name
    impostor = ["--cert", tmp_path / "impostor" / SIGNER_CHAIN, "--key", tmp_path / "impostor" / SIGNER_KEY]
    code, _, err = cli(capsys, "models", "sign", folder, "--force", *impostor)
    assert code == 0, err
    trust = ["--trust", tmp_path / "impostor" / CA_CERT]
    code, _, err = denoise(capsys, folder, *trust, tmp_path=tmp_path)
    assert code == 2 and own_run in err and "not that run's final checkpoint" in err
    code, _, err = denoise(capsys, folder, *trust, "--unverified-model", tmp_path=tmp_path)
    assert code == 2 and own_run in err
    assert show_run(workspace, own_run).checkpoints  # the run is untouched


def test_models_sign_checks_the_folder_first(folder, capsys, tmp_path):
    code, _, err = cli(capsys, "models", "sign", folder)
    assert code == 2 and "already signed" in err
    (folder / "model.safetensors").write_bytes(b"not the recorded weights")
    code, _, err = cli(capsys, "models", "sign", folder, "--force")
    assert code == 2 and "sha256" in err
    code, _, err = cli(capsys, "models", "sign", tmp_path)
    assert code == 2 and "not an exported model folder" in err


def test_what_is_loaded_is_what_was_verified(folder, signed_model, tmp_path, monkeypatch, capsys):
    """A folder edited between the signature check and the read (a shared or network folder)
    must not get its new claims signed as verified: both happen on one private copy."""
    import registry.model_folders as model_folders

    check = model_folders.verify_folder

    def verify_then_relabel(path, anchors):
        result = check(path, anchors)
        relabel(folder)  # the user's folder changes right after the check
        return result

    monkeypatch.setattr(model_folders, "verify_folder", verify_then_relabel)
    code, _, err = denoise(capsys, folder, "--trust", signed_model.ca, tmp_path=tmp_path)
    assert code == 0, err
    from provenance.verification import verify_image

    lineage = verify_image(tmp_path / "out" / "noisy.png", []).lineage
    assert lineage["claims"] == "verified" and lineage["latest_audit"] != "IDENTICAL"
    assert lineage["training_data"]["consent"] == {"unknown": 6}  # as signed; the edit said "granted"


def test_a_missing_weights_file_gets_one_line_naming_it(folder, signed_model, capsys, tmp_path):
    (folder / "model.safetensors").unlink()
    code, _, err = denoise(capsys, folder, "--unverified-model", tmp_path=tmp_path)
    assert code == 2, err
    assert err.splitlines()[-1] == (
        f"error: {folder} is not a usable model folder: model.safetensors: No such file or directory"
    )


def test_a_link_swapped_in_after_the_folder_check_is_still_never_read(folder, tmp_path):
    """open_model_folder refuses links before it copies the folder; a link that appears in the
    copy (swapped in between the two) is refused again where the bytes are read."""
    from registry.errors import RegistryError
    from registry.model_folders import read_record

    real = tmp_path / "elsewhere.safetensors"
    shutil.move(folder / "model.safetensors", real)
    (folder / "model.safetensors").symlink_to(real)
    shown = tmp_path / "the-users-folder"
    with pytest.raises(RegistryError) as refused:
        read_record(folder, shown=shown)
    assert str(refused.value) == f"{shown / 'model.safetensors'} {LINK_REFUSAL}"


def test_verify_of_a_folder_names_its_signer_and_checks_its_run_where_it_was_trained(signed_model, capsys):
    trust = ["--trust", signed_model.ca]
    record = json.loads((signed_model.folder / "provenoise-model.json").read_text())
    code, out, err = cli(capsys, "verify", signed_model.folder, *trust, *own_registry(signed_model), "--json")
    assert code == 0, err
    (report,) = json.loads(out)
    signer, anchor = report["signed_by"], report["anchor"]
    assert (report["file"], report["kind"], report["ok"], report["reason"]) == (
        str(signed_model.folder),
        "model folder",
        True,
        "ok",
    )
    assert "CN=provenoise development signer" in signer and anchor["label"] and anchor["subject"]
    assert report["registry"] == f"checked ({record['workspace_id']})"
    signed_and_validated = [f"signed by {signer}", f"validated by {anchor['label']} ({anchor['subject']})"]
    assert report["notes"] == [
        *signed_and_validated,
        f"run {signed_model.run_id} and its final checkpoint match the registry",
    ]
    code, out, err = cli(capsys, "verify", signed_model.folder, *trust, "--json")  # no registry here
    (report,) = json.loads(out)
    assert code == 0 and report["registry"] == "not checked" and report["notes"] == signed_and_validated


def test_verify_names_what_is_wrong_with_a_validly_signed_record(tmp_path, capsys):
    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys")
    sign_record_as_is(folder, tmp_path / "keys", format_version=99)
    code, out, _ = cli(capsys, "verify", folder, "--trust", tmp_path / "keys" / CA_CERT, "--json")
    (report,) = json.loads(out)
    assert code == 1 and report["reason"] == f"{folder}: model format 99 is not supported"


def test_a_signed_record_naming_a_run_that_is_not_a_name_is_an_unknown_run(signed_model, folder, capsys):
    """A publisher's record is believed only for what it is: a run id that is not a string (here
    a list, in a folder naming this registry) is looked up as nothing, never as a key."""
    sign_record_as_is(folder, signed_model.ca.parent, run_id=[signed_model.run_id])
    code, out, err = cli(capsys, "verify", folder, "--trust", signed_model.ca, *own_registry(signed_model), "--json")
    (report,) = json.loads(out)
    assert code == 1, err
    assert report["reason"] == (
        f"unknown run: run [{signed_model.run_id!r}] is not in the registry that recorded it (deleted?)"
    )


def test_signing_is_refused_when_already_signed_or_the_key_is_not_the_certificates(tmp_path):
    import dataclasses

    from provenance.keys import load_development_keys
    from registry.errors import RegistryError
    from registry.model_folders import sign_model_folder
    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys")
    signature = (folder / "model.sig").read_bytes()
    own = load_development_keys(tmp_path / "keys")
    with pytest.raises(RegistryError) as refused:
        sign_model_folder(folder, own)
    assert str(refused.value) == f"{folder} is already signed (model.sig); pass --force to sign it again"
    mismatched = dataclasses.replace(own, key_pem=create_development_keys(tmp_path / "other").key_pem)
    with pytest.raises(RegistryError) as refused:
        sign_model_folder(folder, mismatched, force=True)
    assert str(refused.value) == (
        f"cannot sign {folder}: The public key from the certificate does not match the public key paired with "
        "the private key"
    )
    assert (folder / "model.sig").read_bytes() == signature


@pytest.mark.parametrize(
    "record, reason",
    [
        (
            b"{not json",
            "{shown} is not a usable model folder: provenoise-model.json: Expecting property name enclosed "
            "in double quotes: line 1 column 2 (char 1)",
        ),
        (b"[1, 2]", "{shown} is not a usable model folder: provenoise-model.json: the record is not a JSON object"),
        (b'{"format_version": 99}', "{shown}: model format 99 is not supported"),
        (None, "{shown}/model.safetensors: sha256 {actual}, the model folder records {recorded}"),
    ],
    ids=["not-json", "not-an-object", "other-format", "other-weights"],
)
def test_each_unusable_record_gets_its_one_line_naming_the_folder_as_shown(folder, tmp_path, record, reason):
    import hashlib

    from registry.errors import RegistryError
    from registry.model_folders import read_record

    recorded = json.loads((folder / "provenoise-model.json").read_text())["weights_sha256"]
    meta, weights = read_record(folder)  # intact: the record and the weights it names
    assert hashlib.sha256(weights).hexdigest() == meta["weights_sha256"] == recorded
    if record is None:
        (folder / "model.safetensors").write_bytes(b"other weights")
    else:
        (folder / "provenoise-model.json").write_bytes(record)
    shown = tmp_path / "the-users-folder"
    with pytest.raises(RegistryError) as refused:
        read_record(folder, shown=shown)
    actual = hashlib.sha256(b"other weights").hexdigest()
    assert str(refused.value) == reason.format(shown=shown, actual=actual, recorded=recorded)
