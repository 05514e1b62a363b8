"""Audit verdicts on SQLite and PostgreSQL: identical, tampered files, edited records, moved workspaces."""

import shutil

import pytest
from sqlalchemy import select

from audits.audit import audit_run
from denoiser.config import config_digest
from registry.models import Audit, Run
from registry.runs import show_run
from registry.tracking import train_run
from registry.workspace import Workspace, find_workspace


@pytest.fixture
def trained(trained_workspace):
    """(workspace, run id): a copy of the session's trained tiny run, for tests about auditing it."""
    return trained_workspace.workspace, trained_workspace.run_id


def test_fresh_run_audits_identical_and_the_audit_is_recorded(trained):
    workspace, run_id = trained
    result = audit_run(workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason
    assert result.passed
    with workspace.store().reader() as session:
        audit = session.scalar(select(Audit).where(Audit.run_id == run_id))
        assert audit.verdict == "IDENTICAL"
        assert audit.environment["torch"]


def test_flipped_checkpoint_byte_fails_integrity_naming_the_file(trained):
    workspace, run_id = trained
    checkpoint = show_run(workspace, run_id).checkpoints[0]
    path = workspace.resolve(checkpoint.path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    result = audit_run(workspace, run_id)
    assert result.verdict == "INTEGRITY_FAILED"
    assert checkpoint.path in result.reason
    assert checkpoint.sha256 in result.reason
    assert not result.passed


def test_changed_data_image_fails_integrity_naming_the_image(trained):
    workspace, run_id = trained
    member = show_run(workspace, run_id).splits[0]
    path = workspace.resolve(member.path)
    path.write_bytes(path.read_bytes() + b"\0")
    result = audit_run(workspace, run_id)
    assert result.verdict == "INTEGRITY_FAILED"
    assert member.path in result.reason
    assert result.differences[0]["image"] == member.image_key


def test_missing_image_is_restored_from_the_dvc_cache(trained):
    workspace, run_id = trained
    member = show_run(workspace, run_id).splits[0]
    original = workspace.resolve(member.path).read_bytes()
    workspace.resolve(member.path).unlink()
    result = audit_run(workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason
    assert any("restored missing image" in note for note in result.notes)
    assert workspace.resolve(member.path).read_bytes() == original


def test_edited_config_in_the_database_is_never_identical(trained):
    workspace, run_id = trained
    with workspace.store().transaction() as session:
        run = session.get(Run, run_id)
        run.config = run.config | {"train": run.config["train"] | {"steps": 12}}
    assert audit_run(workspace, run_id).verdict == "INTEGRITY_FAILED"

    # Editing the hash along with the config gets past integrity, not past re-execution.
    with workspace.store().transaction() as session:
        run = session.get(Run, run_id)
        run.config_hash = config_digest(run.config)
    result = audit_run(workspace, run_id)
    assert result.verdict == "DIVERGED"
    # 12 steps instead of 8 stretch the cosine schedule, so the first checkpoint differs.
    assert "checkpoint at step 4" in result.reason


def test_copied_workspace_still_audits_identical(trained, tmp_path):
    workspace, run_id = trained
    copy = tmp_path / "elsewhere" / "moved"
    shutil.copytree(workspace.root, copy, symlinks=True)
    moved = find_workspace(copy)
    assert moved.root == copy.resolve()
    if workspace.db_url.startswith("sqlite"):  # the SQLite database travels with the folder
        assert str(copy) in moved.db_url
    result = audit_run(moved, run_id)
    assert result.verdict == "IDENTICAL", result.reason


def test_other_seed_does_not_match_recorded_checkpoints(trained, tiny_config):
    workspace, run_id = trained
    first = show_run(workspace, run_id).checkpoints
    again = show_run(workspace, train_run(workspace, tiny_config)).checkpoints
    other = show_run(workspace, train_run(workspace, tiny_config, ["train.seed=1"])).checkpoints
    assert [c.sha256 for c in first] == [c.sha256 for c in again]
    assert all(a.sha256 != b.sha256 for a, b in zip(first, other))


def test_workspace_fixture_is_a_real_workspace(workspace):
    assert isinstance(workspace, Workspace)
    assert (workspace.root / ".dvc").is_dir() and (workspace.root / "data.dvc").is_file()


def _pretend_recorded_elsewhere(session, run_id, metric_delta):
    """Edit the record as if the run had been made on another machine, one metric off."""
    run = session.get(Run, run_id)
    run.environment = run.environment | {"cpu_model": "another CPU", "torch": "0.0-elsewhere"}
    metric = sorted(run.metrics, key=lambda m: (m.image_key, m.method, m.metric))[0]
    metric.value += metric_delta
    return metric


def test_environment_difference_within_tolerance_is_equivalent(trained):
    workspace, run_id = trained
    with workspace.store().transaction() as session:
        metric = _pretend_recorded_elsewhere(session, run_id, 1e-4)
    result = audit_run(workspace, run_id)
    assert result.verdict == "EQUIVALENT", result.reason
    assert "the environment differs" in result.reason
    assert any("cpu_model" in note for note in result.notes)
    assert result.differences[0]["within_tolerance"] and metric.image_key in result.differences[0]["what"]


def test_environment_difference_beyond_tolerance_diverges_naming_the_metric(trained):
    workspace, run_id = trained
    with workspace.store().transaction() as session:
        metric = _pretend_recorded_elsewhere(session, run_id, 1.0)
    result = audit_run(workspace, run_id)
    assert result.verdict == "DIVERGED"
    assert f"{metric.metric} of {metric.method} on {metric.image_key}" in result.reason


def test_adding_a_dataset_later_does_not_disturb_an_older_audit(trained, tmp_path):
    from registry.datasets import add_dataset
    from tests.conftest import write_dataset

    workspace, run_id = trained
    add_dataset(workspace, write_dataset(tmp_path / "later", count=3), "later")
    assert audit_run(workspace, run_id).verdict == "IDENTICAL"
