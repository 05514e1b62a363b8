"""Faults survived, nothing lost: a process killed mid-write, a full disk, a dropped database
connection, and writers at the same time. Each fault is injected where it hurts most."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import func, select

from denoiser.training import TrainingHooks
from registry.errors import RegistryError
from registry.models import ConsentEvent, Dataset, Image, Run
from registry.runs import show_run
from registry.tracking import resume_run, train_run
from tests.conftest import cli, write_dataset

# A child process that runs `code` after `setup` (a fault planted in its own modules), in the workspace.
CHILD = """
import os, pathlib, signal, sys
from registry.workspace import find_workspace
workspace = find_workspace()
{setup}
{code}
"""
KILL_SELF = "os.kill(os.getpid(), signal.SIGKILL)"


def run_child(workspace, setup: str, code: str) -> subprocess.CompletedProcess:
    script = CHILD.format(setup=setup, code=code)
    return subprocess.run([sys.executable, "-c", script], cwd=workspace.root, capture_output=True, text=True)


def latest_run(workspace) -> Run:
    with workspace.store().reader() as session:
        run_id = session.scalar(select(Run.id).order_by(Run.created_at.desc()).limit(1))
    return show_run(workspace, run_id)


def test_kill_9_during_a_checkpoint_write_leaves_no_checkpoint_recorded_and_resumes(workspace, tiny_config):
    reference = show_run(workspace, train_run(workspace, tiny_config))
    # Killed half-way through writing the training state of the second checkpoint (step 8).
    setup = f"""
import registry.artifacts as artifacts
original = artifacts.write_atomic
def dying(path, data):
    if "step-00000008" in path.name:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(".tmp-half").write_bytes(data[: len(data) // 2])
        {KILL_SELF}
    original(path, data)
artifacts.write_atomic = dying
from registry.tracking import train_run
"""
    child = run_child(workspace, setup, f"train_run(workspace, pathlib.Path({str(tiny_config)!r}))")
    assert child.returncode == -9, child.stderr
    run = latest_run(workspace)
    assert run.status == "interrupted"  # seen by the next command that looks
    assert [c.step for c in run.checkpoints] == [4]  # the half-written step 8 is not recorded
    assert resume_run(workspace, run.id) == run.id
    assert [c.sha256 for c in show_run(workspace, run.id).checkpoints] == [c.sha256 for c in reference.checkpoints]


def test_kill_9_during_data_add_records_no_half_dataset(workspace, tmp_path, capsys):
    source = write_dataset(tmp_path / "source", count=6)
    setup = f"""
import shutil
copies = []
original = shutil.copyfile
def dying(src, dst, *args, **kwargs):
    copies.append(src)
    if len(copies) == 3:
        {KILL_SELF}
    return original(src, dst, *args, **kwargs)
shutil.copyfile = dying
from registry.datasets import add_dataset
"""
    child = run_child(workspace, setup, f"add_dataset(workspace, pathlib.Path({str(source)!r}), 'half')")
    assert child.returncode == -9, child.stderr
    with workspace.store().reader() as session:
        assert session.scalar(select(Dataset).where(Dataset.name == "half")) is None
    assert not (workspace.data_dir / "half").exists()
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"], cwd=workspace.root, capture_output=True, text=True
    )
    assert status.returncode == 0 and json.loads(status.stdout or "{}") == {}, status.stdout  # data/ as data.dvc says
    assert cli(capsys, "data", "add", source, "--name", "half")[0] == 0  # and the same add then works
    with workspace.store().reader() as session:
        count = session.scalar(select(func.count()).select_from(Image).join(Dataset).where(Dataset.name == "half"))
    assert count == 6


def test_a_full_disk_during_a_checkpoint_write_fails_the_run_cleanly_and_it_resumes(
    workspace, tiny_config, monkeypatch
):
    import registry.artifacts as artifacts

    reference = show_run(workspace, train_run(workspace, tiny_config))
    original = artifacts.write_atomic

    def full(path, data):
        if "step-00000008" in path.name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        original(path, data)

    monkeypatch.setattr(artifacts, "write_atomic", full)
    with pytest.raises(RegistryError, match="No space left on device: .*fix it, then: registry train --resume"):
        train_run(workspace, tiny_config)
    run = latest_run(workspace)
    assert run.status == "failed" and "No space left on device" in run.error
    assert [c.step for c in run.checkpoints] == [4]
    assert not list(workspace.state_dir(run.id).glob(".tmp-*"))  # no partial file left behind
    monkeypatch.setattr(artifacts, "write_atomic", original)  # space freed
    resume_run(workspace, run.id)
    assert [c.sha256 for c in show_run(workspace, run.id).checkpoints] == [c.sha256 for c in reference.checkpoints]


class DropConnectionsAt(TrainingHooks):
    """At a step, the database server ends every connection of this run (pg_terminate_backend)."""

    def __init__(self, admin_url: str, database: str, step: int):
        self.admin_url, self.database, self.step, self.dropped = admin_url, database, step, 0

    def on_step(self, step, total, loss):
        if step == self.step:
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                self.dropped = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()",
                    (self.database,),
                ).fetchone()[0]


def test_a_dropped_postgresql_connection_mid_run_loses_nothing(tiny_config, tmp_path, monkeypatch):
    from registry.datasets import add_dataset
    from registry.workspace import init_workspace
    from tests.conftest import POSTGRES_ADMIN, create_database, drop_database

    url = create_database()
    try:
        monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
        workspace, _ = init_workspace(tmp_path / "ws", url)
        add_dataset(workspace, write_dataset(tmp_path / "source"), "tiny")
        monkeypatch.chdir(workspace.root)
        reference = show_run(workspace, train_run(workspace, tiny_config))
        hooks = DropConnectionsAt(POSTGRES_ADMIN.replace("+psycopg", ""), url.rsplit("/", 1)[1], step=6)
        try:
            run_id = train_run(workspace, tiny_config, hooks=hooks)  # the pool reconnects...
        except Exception:  # ...or the run fails cleanly at its next write, recorded as failed
            run_id = latest_run(workspace).id
            assert latest_run(workspace).status == "failed"
            resume_run(workspace, run_id)
        assert hooks.dropped >= 1  # the fault did happen
        run = show_run(workspace, run_id)
        assert run.status == "finished"
        assert [c.sha256 for c in run.checkpoints] == [c.sha256 for c in reference.checkpoints]
        workspace.store().close()
    finally:
        drop_database(url)


def test_two_trainings_at_once_on_one_sqlite_workspace(tiny_config, tmp_path, monkeypatch):
    from registry.datasets import add_dataset
    from registry.workspace import init_workspace

    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    workspace, _ = init_workspace(tmp_path / "ws")
    add_dataset(workspace, write_dataset(tmp_path / "source"), "tiny")
    command = [sys.executable, "-m", "registry.cli", "train", str(tiny_config)]
    trainers = [
        subprocess.Popen(command, cwd=workspace.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [trainer.communicate(timeout=300) for trainer in trainers]
    assert [trainer.returncode for trainer in trainers] == [0, 0], [err for _, err in results]
    assert not any("database is locked" in err for _, err in results)
    with workspace.store().reader() as session:
        assert session.scalars(select(Run.status)).all().count("finished") == 2


WRITER = """
import sys
from registry.datasets import set_consent
from registry.workspace import find_workspace
workspace = find_workspace()
for image in sys.argv[1:]:
    set_consent(workspace, image, "granted", "writer " + image)
"""


def test_eight_concurrent_writers_on_postgresql_lose_and_duplicate_nothing(tmp_path, capsys, monkeypatch):
    from registry.datasets import add_dataset
    from registry.workspace import init_workspace
    from tests.conftest import create_database, drop_database

    url = create_database()
    try:
        monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
        workspace, _ = init_workspace(tmp_path / "ws", url)
        add_dataset(workspace, write_dataset(tmp_path / "source", count=16), "many")
        images = [f"many/img{index:02d}" for index in range(16)]
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, *images[i::8]], cwd=workspace.root, stderr=subprocess.PIPE)
            for i in range(8)
        ]
        errors = [writer.communicate(timeout=300)[1] for writer in writers]
        assert [writer.returncode for writer in writers] == [0] * 8, errors
        with workspace.store().reader() as session:
            events = session.scalars(select(ConsentEvent.note)).all()
            statuses = session.scalars(select(Image.consent)).all()
        assert sorted(events) == sorted(f"writer {image}" for image in images)  # each once, none lost
        assert statuses == ["granted"] * 16
        monkeypatch.chdir(workspace.root)
        code, out, err = cli(capsys, "ledger", "verify", "--json")
        assert code == 0, err  # every write in the ledger once, in one order
        workspace.store().close()
    finally:
        drop_database(url)
