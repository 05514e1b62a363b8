"""One trainer per run: a live run cannot be resumed twice, a dead trainer's run shows interrupted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from denoiser.training import TrainingHooks
from registry.db import utcnow
from registry.models import LossPoint, Run, RunLock
from registry.run_locks import STALE_AFTER_SECONDS, Heartbeat, Hold
from registry.runs import show_run
from registry.tracking import LockLost, train_run
from tests.conftest import cli

# A trainer that stops at step 6 (after the checkpoint of step 4) and waits there, as a
# long training would, until it is killed.
BLOCKED_TRAINER = """
import pathlib, sys, time
from denoiser.training import TrainingHooks
from registry.tracking import train_run
from registry.workspace import find_workspace

class WaitAtStep6(TrainingHooks):
    def on_step(self, step, total, loss):
        if step == 6:
            pathlib.Path(sys.argv[2]).write_text("waiting")
            time.sleep(600)

train_run(find_workspace(), pathlib.Path(sys.argv[1]), hooks=WaitAtStep6())
"""


def start_blocked_trainer(workspace, config: Path, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    ready = tmp_path / "ready"
    trainer = subprocess.Popen([sys.executable, "-c", BLOCKED_TRAINER, str(config), str(ready)], cwd=workspace.root)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert trainer.poll() is None, "the trainer exited early"
        assert time.monotonic() < deadline, "the trainer never reached step 6"
        time.sleep(0.1)
    with workspace.store().reader() as session:
        return trainer, session.scalar(select(Run.id).order_by(Run.created_at.desc()).limit(1))


def kill_hard(trainer: subprocess.Popen) -> None:
    trainer.send_signal(signal.SIGKILL)
    trainer.wait()


def loss_points(workspace, run_id: str) -> list[tuple]:
    with workspace.store().reader() as session:
        return list(session.execute(select(LossPoint.step, LossPoint.split).where(LossPoint.run_id == run_id)))


def test_resuming_a_live_run_is_refused_naming_its_trainer(workspace, tiny_config, tmp_path, capsys):
    trainer, run_id = start_blocked_trainer(workspace, tiny_config, tmp_path)
    try:
        before = loss_points(workspace, run_id)
        code, _, err = cli(capsys, "train", "--resume", run_id)
        assert code == 2
        assert f"run {run_id} is being trained by pid {trainer.pid} on " in err
        code, out, _ = cli(capsys, "runs", "show", run_id, "--json")
        assert json.loads(out)["status"] == "running"  # the live run is left alone
        assert loss_points(workspace, run_id) == before
    finally:
        kill_hard(trainer)


def test_kill_9_shows_interrupted_and_resume_gives_the_uninterrupted_bytes(workspace, tiny_config, tmp_path, capsys):
    reference = show_run(workspace, train_run(workspace, tiny_config))
    trainer, run_id = start_blocked_trainer(workspace, tiny_config, tmp_path)
    pid = trainer.pid
    kill_hard(trainer)
    code, out, _ = cli(capsys, "runs", "show", run_id, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "interrupted"  # the next command that looks sees it
    assert f"pid {pid}" in shown["error"] and "--resume" in shown["error"]
    assert cli(capsys, "train", "--resume", run_id)[0] == 0
    resumed = show_run(workspace, run_id)
    assert resumed.status == "finished"
    assert [c.sha256 for c in resumed.checkpoints] == [c.sha256 for c in reference.checkpoints]
    with workspace.store().reader() as session:
        assert session.get(RunLock, run_id) is None  # released with the finished status


def plant_lock(workspace, run_id: str, host: str, heartbeat_age: float) -> None:
    with workspace.store().transaction() as session:
        lock = session.get(RunLock, run_id)
        lock.host, lock.pid = host, 1
        lock.heartbeat_at = utcnow() - timedelta(seconds=heartbeat_age)


class HandTheLockOverAt(TrainingHooks):
    """At a step, another process takes the run's lock (as if it had taken this one for dead)."""

    def __init__(self, workspace, step: int):
        self.workspace, self.step = workspace, step

    def on_step(self, step, total, loss):
        if step == self.step:
            with self.workspace.store().transaction() as session:
                (lock,) = session.scalars(select(RunLock))
                lock.token, lock.host = "0" * 32, "elsewhere"


def test_a_trainer_that_lost_its_lock_stops_and_leaves_the_run_alone(workspace, tiny_config):
    with pytest.raises(LockLost):
        train_run(workspace, tiny_config, hooks=HandTheLockOverAt(workspace, 6))
    with workspace.store().reader() as session:
        run = session.scalars(select(Run)).one()
        assert (run.status, run.error) == ("running", None)  # not marked failed: it is not ours now
        assert [c.step for c in run.checkpoints] == [4]  # the checkpoint of step 8 was not recorded
        assert session.get(RunLock, run.id).host == "elsewhere"


def test_another_hosts_trainer_is_live_until_its_heartbeat_is_stale(workspace, tiny_config, capsys):
    with pytest.raises(LockLost):  # leaves a running run whose lock names another machine
        train_run(workspace, tiny_config, hooks=HandTheLockOverAt(workspace, 6))
    with workspace.store().reader() as session:
        run_id = session.scalar(select(Run.id))
    plant_lock(workspace, run_id, "elsewhere", heartbeat_age=STALE_AFTER_SECONDS - 30)
    code, _, err = cli(capsys, "train", "--resume", run_id)
    assert code == 2 and "being trained by pid 1 on elsewhere" in err
    plant_lock(workspace, run_id, "elsewhere", heartbeat_age=STALE_AFTER_SECONDS + 1)
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert code == 0 and [r["status"] for r in json.loads(out)] == ["interrupted"]


def test_a_reused_pid_is_not_the_trainer(workspace, tiny_config, capsys):
    with pytest.raises(LockLost):
        train_run(workspace, tiny_config, hooks=HandTheLockOverAt(workspace, 6))
    with workspace.store().transaction() as session:
        lock = session.scalars(select(RunLock)).one()
        lock.host = socket.gethostname()
        lock.pid, lock.process = os.getpid(), "another-boot:1"  # this pid is alive, but not that process
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert [r["status"] for r in json.loads(out)] == ["interrupted"]


def test_the_heartbeat_refreshes_the_lock_and_notices_a_takeover(workspace, tiny_config):
    with pytest.raises(LockLost):
        train_run(workspace, tiny_config, hooks=HandTheLockOverAt(workspace, 6))
    with workspace.store().transaction() as session:
        lock = session.scalars(select(RunLock)).one()
        lock.heartbeat_at = utcnow() - timedelta(hours=1)
        hold = Hold(lock.run_id, lock.token)

    def heartbeat_age() -> float:
        with workspace.store().reader() as session:
            return (utcnow() - session.get(RunLock, hold.run_id).heartbeat_at).total_seconds()

    with Heartbeat(workspace.store(), hold, interval=0.05) as heartbeat:
        deadline = time.monotonic() + 30
        while heartbeat_age() > 60:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with workspace.store().transaction() as session:
            session.get(RunLock, hold.run_id).token = "f" * 32  # another trainer took it
        assert heartbeat.lost.wait(30)
