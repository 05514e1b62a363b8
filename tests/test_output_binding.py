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


def this_registry(workspace) -> str:
    with workspace.store().reader() as session:
        return registry_id(session)


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


def test_an_output_whose_record_was_deleted_fails_verification(workspace, output, capsys):
    run_id, path = output
    execute(workspace, "DELETE FROM outputs")
    code, report = verify(capsys, path)
    this = this_registry(workspace)
    assert (
        code == 1 and report["reason"] == f"not recorded in its registry: registry {this} has no record of this output"
    )
    assert f"run {run_id} and its final checkpoint match the registry" in report["notes"]


def test_an_edited_run_fails_verification(workspace, output, capsys):
    run_id, path = output
    execute(workspace, f"UPDATE runs SET data_version = 'forged', seed = seed + 1 WHERE id = '{run_id}'")
    code, report = verify(capsys, path)
    assert code == 1
    assert report["reason"] == (
        f"run changed since signing: run {run_id}: data_version, seeds differ from what the output pinned"
    )


LATEST = "(SELECT MAX(step) FROM checkpoints WHERE run_id = '{run}')"
CHECKPOINT_EDITS = {  # what an adversary with the database does to a run's checkpoints, and the final one then
    "edited": ("UPDATE checkpoints SET sha256 = '" + "0" * 64 + "' WHERE run_id = '{run}'", "0" * 64),
    "one appended": (
        "INSERT INTO checkpoints (run_id, step, final, sha256, path, state_sha256, state_path, created_at) "
        "SELECT run_id, step + 100, final, '" + "1" * 64 + "', path, state_sha256, state_path, created_at "
        "FROM checkpoints WHERE run_id = '{run}' AND step = " + LATEST,
        "1" * 64,
    ),
    "all deleted": ("DELETE FROM checkpoints WHERE run_id = '{run}'", None),
}


@pytest.mark.parametrize("edit", CHECKPOINT_EDITS)
def test_an_edited_checkpoint_fails_verification(workspace, output, capsys, edit):
    run_id, path = output
    statement, final = CHECKPOINT_EDITS[edit]
    signed = verify_image(path, []).lineage["checkpoint_sha256"]
    execute(workspace, statement.format(run=run_id))
    code, report = verify(capsys, path)
    assert code == 1
    assert report["reason"] == (
        f"checkpoint does not match the run: run {run_id}: manifest names {signed}, run has {final}"
    )


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


def test_verify_names_the_runs_latest_audit_now(workspace, output, capsys):
    """The audit verdict a verifier sees is the registry's latest, not one signed into the output."""
    run_id, path = output
    code, report = verify(capsys, path)
    assert not any(note.startswith("latest audit") for note in report["notes"])  # none yet
    code, _, err = cli(capsys, "audit", run_id)
    assert code == 0, err
    code, report = verify(capsys, path)
    assert code == 0 and "latest audit of the run now: IDENTICAL" in report["notes"]


def test_an_output_signed_before_manifests_named_their_registry_is_bound_by_its_record(
    workspace, output, tmp_path, capsys
):
    """A manifest without registry ids (as signed before they existed) is checked here when this
    registry recorded the file, and its run must still be here; without a record it names none."""
    from provenance.keys import load_development_keys
    from registry.manifests import sha256_file
    from tests.c2pa_files import signed_png

    run_id, path = output
    lineage = verify_image(path, []).lineage
    old = {key: value for key, value in lineage.items() if key not in ("workspace_id", "model_workspace_id")}
    credentials = load_development_keys(workspace.registry_dir / "keys")
    unrecorded = signed_png(tmp_path / "unrecorded.png", credentials, old)
    code, report = verify(capsys, unrecorded)
    assert code == 0 and report["registry"] == "not checked"
    this = this_registry(workspace)
    assert report["notes"][-1] == f"registry not checked: the output names registry none, this one is {this}"

    legacy = signed_png(tmp_path / "legacy.png", credentials, old, seed=8)
    execute(workspace, f"UPDATE outputs SET output_sha256 = '{sha256_file(legacy)}' WHERE run_id = '{run_id}'")
    code, report = verify(capsys, legacy)
    assert code == 0 and report["registry"] == f"checked ({this})"
    assert f"run {run_id} and its final checkpoint match the registry" in report["notes"]
    assert any(note.startswith("recorded as output out/noisy.png on ") for note in report["notes"])
