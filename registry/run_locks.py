"""One trainer per run: a lock row naming the process that trains it, kept fresh by a heartbeat.

The lock is taken in the transaction that records or resumes the run, so two trainers
cannot both start: the second insert of the same run id fails on the primary key. Its
owner is gone when, seen from its own machine, its process no longer exists (the pid, with
the boot id and start time, so a reused pid is not taken for it), or, seen from another
machine, its heartbeat is older than STALE_AFTER_SECONDS (the machines' clocks are assumed
to agree within that, as NTP keeps them). A `running` run whose owner is gone is marked
`interrupted` by the next command that looks at it, and can be resumed.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.db import Store, utcnow
from registry.errors import RegistryError
from registry.models import Run, RunLock

HEARTBEAT_SECONDS = 15.0
STALE_AFTER_SECONDS = 120.0  # eight missed heartbeats


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def process_identity(pid: int) -> str | None:
    """'BOOT_ID:START_TICKS' of a live process on this machine, None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # someone else's process: alive
        return f"{_boot_id()}:?"
    start_ticks = stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before it may hold spaces
    return f"{_boot_id()}:{start_ticks}"


@dataclass(frozen=True)
class Hold:
    """This process's hold of one run's lock."""

    run_id: str
    token: str


def owner_alive(lock: RunLock, now: datetime) -> bool:
    if lock.host == socket.gethostname():
        identity = process_identity(lock.pid)
        return identity is not None and (identity == lock.process or lock.process.endswith(":?"))
    return (now - lock.heartbeat_at).total_seconds() < STALE_AFTER_SECONDS


def describe(lock: RunLock, now: datetime) -> str:
    age = (now - lock.heartbeat_at).total_seconds()
    return f"pid {lock.pid} on {lock.host}, last heartbeat {age:.0f} s ago"


def refuse_live_owner(session: Session, run_id: str) -> None:
    lock, now = session.get(RunLock, run_id), utcnow()
    if lock is not None and owner_alive(lock, now):
        raise RegistryError(f"run {run_id} is being trained by {describe(lock, now)}; wait for it or stop that process")


def take(session: Session, run_id: str) -> Hold:
    """Claim the run in the caller's transaction: a live owner is refused (exit 2, naming
    it), a dead one's lock is cleared. Of two claims at once, the second fails on the
    primary key (an IntegrityError the caller words)."""
    refuse_live_owner(session, run_id)
    now = utcnow()
    existing = session.get(RunLock, run_id)
    if existing is not None:  # its owner is gone
        session.delete(existing)
        session.flush()
    hold = Hold(run_id, secrets.token_hex(16))
    pid = os.getpid()
    session.add(
        RunLock(
            run_id=run_id,
            token=hold.token,
            pid=pid,
            host=socket.gethostname(),
            process=process_identity(pid) or "unknown",
            acquired_at=now,
            heartbeat_at=now,
        )
    )
    session.flush()
    return hold


def holds(session: Session, hold: Hold) -> bool:
    lock = session.get(RunLock, hold.run_id)
    return lock is not None and lock.token == hold.token


def release(session: Session, hold: Hold) -> None:
    lock = session.get(RunLock, hold.run_id)
    if lock is not None and lock.token == hold.token:
        session.delete(lock)


def settle_abandoned(store: Store) -> list[str]:
    """Mark `interrupted` every running run whose trainer is gone; returns their ids."""
    with store.reader() as session:
        rows = session.execute(
            select(Run.id, RunLock).outerjoin(RunLock, RunLock.run_id == Run.id).where(Run.status == "running")
        ).all()
    now = utcnow()
    gone = [run_id for run_id, lock in rows if lock is None or not owner_alive(lock, now)]
    if not gone:
        return []
    settled = []
    with store.transaction() as session:
        for run_id in gone:  # checked again inside the write: a trainer may have resumed it meanwhile
            run, lock = session.get(Run, run_id), session.get(RunLock, run_id)
            if run.status != "running" or (lock is not None and owner_alive(lock, now)):
                continue
            owner = describe(lock, now) if lock is not None else "no process holds it"
            run.status = "interrupted"
            run.error = f"its trainer stopped without finishing ({owner}); resume: registry train --resume {run_id}"
            if lock is not None:
                session.delete(lock)
            settled.append(run_id)
    return settled


class Heartbeat:
    """Refreshes the lock every HEARTBEAT_SECONDS from a thread of its own, through training,
    evaluation and cost measurement alike; `lost` is set when another process took the lock."""

    def __init__(self, store: Store, hold: Hold, interval: float = HEARTBEAT_SECONDS):
        self.store, self.hold, self.interval = store, hold, interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {hold.run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.store.transaction() as session:
                    refreshed = session.execute(
                        update(RunLock)
                        .where(RunLock.run_id == self.hold.run_id, RunLock.token == self.hold.token)
                        .values(heartbeat_at=utcnow())
                    ).rowcount
            except Exception:  # noqa: BLE001 (a database away for a moment: the next beat retries)
                continue
            if refreshed == 0:
                self.lost.set()
                return
