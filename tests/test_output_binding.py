"""Signed outputs name the registry that recorded them and the run that made them (issue 9,
capability 2): in that registry a deleted or edited run fails verification, naming it; any
other registry says it was not checked."""

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from provenance.signing import DIGITAL_SOURCE_TYPE
from provenance.verification import verify_image
from registry.identity import registry_id
from registry.workspace import init_workspace
from tests.c2pa_files import plain_png
from tests.conftest import cli


@pytest.fixture
def workspace(trained_workspace):
    """This module's tests start after training: a copy of a trained workspace (conftest)."""
    return trained_workspace.workspace


@pytest.fixture
def output(trained_workspace, tmp_path, capsys):
    run_id = trained_workspace.run_id
    code, _, err = cli(capsys, "denoise", run_id, plain_png(tmp_path / "noisy.png"), "--out", "out", "--sigma", 25)
    assert code == 0, err
    return run_id, trained_workspace.workspace.root / "out" / "noisy.png"


def verify(capsys, *args):
    code, out, err = cli(capsys, "verify", *args, "--json")
    return code, json.loads(out)[0] if out else err


def execute(workspace, *statements):
    with workspace.store().engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_the_manifest_names_its_registry_and_the_run_record(workspace, output, capsys):
    run_id, path = output
    code, report = verify(capsys, path)
    assert code == 0 and report["registry"].startswith("checked")
    verification = verify_image(path, [])
    lineage = verification.lineage
    assert verification.actions[-1]["digitalSourceType"] == DIGITAL_SOURCE_TYPE  # IPTC: algorithmically enhanced
    with workspace.store().reader() as session:
        assert lineage["workspace_id"] == lineage["model_workspace_id"] == registry_id(session)
    assert set(lineage["run_record"]) == {
        "config_sha256",
        "final_checkpoint_sha256",
        "split_sha256",
        "data_version",
        "seeds",
        "code_sha256",
    }


def test_a_run_with_outputs_cannot_be_deleted_through_the_database(workspace, output):
    run_id, _ = output
    with pytest.raises(IntegrityError):
        execute(workspace, f"DELETE FROM runs WHERE id = '{run_id}'")


def test_a_deleted_run_fails_verification_and_is_named(workspace, output, capsys):
    run_id, path = output
    execute(workspace, "DELETE FROM outputs", f"DELETE FROM runs WHERE id = '{run_id}'")
    code, report = verify(capsys, path)
    assert code == 1 and not report["ok"]
    assert report["reason"].startswith("unknown run") and run_id in report["reason"]
    assert any("not recorded in its registry" in note for note in report["notes"])


def test_an_edited_run_fails_verification(workspace, output, capsys):
    run_id, path = output
    execute(workspace, f"UPDATE runs SET data_version = 'forged' WHERE id = '{run_id}'")
    code, report = verify(capsys, path)
    assert code == 1 and report["reason"].startswith("run changed since signing") and "data_version" in report["reason"]


def test_an_edited_checkpoint_fails_verification(workspace, output, capsys):
    run_id, path = output
    execute(workspace, f"UPDATE checkpoints SET sha256 = '{'0' * 64}' WHERE run_id = '{run_id}'")
    code, report = verify(capsys, path)
    assert code == 1 and report["reason"].startswith("checkpoint does not match the run")


def test_another_registry_is_not_checked(output, tmp_path, monkeypatch, capsys):
    _, path = output
    other, _ = init_workspace(tmp_path / "other")  # empty: it never heard of this output or run
    monkeypatch.chdir(other.root)
    code, report = verify(capsys, path)
    assert code == 0 and report["registry"] == "not checked"
    assert any(note.startswith("registry not checked: the output names registry") for note in report["notes"])


def test_the_registry_can_be_named_with_db_from_anywhere(workspace, output, tmp_path, monkeypatch, capsys):
    run_id, path = output
    monkeypatch.chdir(tmp_path)
    code, report = verify(capsys, path)
    assert code == 0 and any("no registry here" in note for note in report["notes"])
    execute(workspace, "DELETE FROM outputs", f"DELETE FROM runs WHERE id = '{run_id}'")
    code, report = verify(capsys, path, "--db", workspace.db_url)
    assert code == 1 and run_id in report["reason"]


def test_an_output_signed_before_manifests_named_their_registry_still_needs_its_run(workspace, tmp_path, capsys):
    """A pre-upgrade manifest (no registry ids) whose run was drawn from this registry's records,
    and whose run was deleted before the upgrade moved it to model_run_id: not ok."""
    from provenance.keys import load_development_keys
    from registry.db import utcnow
    from registry.manifests import sha256_file
    from registry.models import Output
    from tests.c2pa_files import signed_png

    gone = "20260101-000000-abcdef"
    facts = {"schema": 1, "run_id": gone, "checkpoint_sha256": "0" * 64, "source": "registry"}
    path = signed_png(tmp_path / "old.png", load_development_keys(workspace.registry_dir / "keys"), facts)
    with workspace.store().transaction() as session:
        session.add(
            Output(
                model_run_id=gone,
                model_sha256="0" * 64,
                input_name="in.png",
                input_sha256="1" * 64,
                output_path="old.png",
                output_sha256=sha256_file(path),
                sigma=25.0,
                sigma_estimated=False,
                steps=1,
                bits=8,
                signed=True,
                user={},
                created_at=utcnow(),
            )
        )
    code, report = verify(capsys, path)
    assert code == 1 and report["reason"].startswith("unknown run") and gone in report["reason"]
