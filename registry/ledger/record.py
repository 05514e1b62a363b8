"""Appending ledger entries: in the transaction of the write they record, in one order.

A session hook runs after every flush: for each row inserted, updated or deleted it reads
the row back as the database now holds it, hashes its canonical JSON, and appends an
entry whose leaf hash extends the Merkle tree. Appends are serialised: SQLite has one
writer at a time and the flush already holds its lock; PostgreSQL takes a transaction-level
advisory lock before reading the next position. Writes that bypass the ORM (bulk
statements) are not seen here, which is why the registry makes none.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, event, func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from provenance.merkle import leaf_hash
from registry.ledger.rows import canonical, is_recorded, read_rows, recorded_tables, row_digest, row_key
from registry.models import LedgerEntry

INSERT, UPDATE, DELETE, BASELINE = "insert", "update", "delete", "baseline"
GENESIS_KIND, GENESIS_KEY = "ledger", "genesis"
ADVISORY_LOCK = 0x70726F76  # "prov": the one lock every appender takes on PostgreSQL


@dataclass
class Timing:
    """Time spent appending, for bench/ledger.py's overhead figure (not a switch: the ledger is always on)."""

    seconds: float = 0.0  # appending entries
    entries: int = 0
    head_seconds: float = 0.0  # signing heads


TIMING = Timing()


def install(sessions: sessionmaker) -> None:
    """Record every flush of sessions made by `sessions`."""
    event.listen(sessions, "after_flush", _after_flush)


def entry_json(entry: dict[str, Any]) -> dict[str, Any]:
    """The part of an entry its leaf hash covers (everything but the leaf hash itself)."""
    return {key: entry[key] for key in ("seq", "kind", "key", "action", "row_sha256", "recorded_at")}


def entry_leaf(entry: dict[str, Any]) -> bytes:
    return leaf_hash(canonical(entry_json(entry)))


def _after_flush(session: Session, _context: Any) -> None:
    writes = _writes(session)
    if writes:
        started = time.perf_counter()
        append(session.connection(), writes)
        TIMING.seconds += time.perf_counter() - started
        TIMING.entries += len(writes)


def _writes(session: Session) -> list[tuple[Table, tuple, str]]:
    writes = []
    for objects, action in ((session.new, INSERT), (session.dirty, UPDATE), (session.deleted, DELETE)):
        for obj in objects:
            if action == UPDATE and not session.is_modified(obj, include_collections=False):
                continue  # only a relationship collection changed: the row itself did not
            state = inspect(obj)
            table = state.mapper.local_table
            if is_recorded(table):
                key = state.identity if action == DELETE else state.mapper.primary_key_from_instance(obj)
                writes.append((table, tuple(key), action))
    return writes


def append(connection: Connection, writes: list[tuple[Table, tuple, str]], when: datetime | None = None) -> int:
    """Append one entry per write (table, primary key, action); returns the number appended."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    seq = connection.execute(select(func.coalesce(func.max(LedgerEntry.seq) + 1, 0))).scalar_one()
    digests = _digests(connection, [(table, key) for table, key, action in writes if action != DELETE])
    recorded_at = when or _now()
    rows = []
    for table, key, action in sorted(writes, key=lambda w: (w[0].name, [str(part) for part in w[1]], w[2])):
        text_key = "/".join(str(part) for part in key)
        entry = {
            "seq": seq,
            "kind": table.name,
            "key": text_key,
            "action": action,
            "row_sha256": None if action == DELETE else digests[(table.name, text_key)],
            "recorded_at": recorded_at,
        }
        rows.append(entry | {"leaf_sha256": entry_leaf(entry).hex()})
        seq += 1
    connection.execute(insert(LedgerEntry.__table__), rows)
    return len(rows)


def _digests(connection: Connection, written: list[tuple[Table, tuple]]) -> dict[tuple[str, str], str]:
    """(table, key) -> the row's digest as stored now, reading each table's rows in one query."""
    by_table: dict[Table, list[tuple]] = defaultdict(list)
    for table, key in written:
        by_table[table].append(key)
    found = {}
    for table, keys in by_table.items():
        for row in read_rows(connection, table, keys):
            found[(table.name, row_key(table, row))] = row_digest(table, row)
    return found


def _now() -> datetime:
    """Naive UTC, as registry.db.utcnow (which this module cannot import: registry.db installs it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def start(connection: Connection) -> int:
    """Begin the ledger of a registry that has none: a genesis entry, then every existing row as
    a baseline (history before this point is not covered). Returns the rows taken in; 0 when
    the ledger had already begun."""
    if connection.execute(select(func.count()).select_from(LedgerEntry)).scalar_one():
        return 0
    now = _now()
    note = {"note": "the ledger begins here; changes made before it are not covered", "started_at": now}
    genesis = {
        "seq": 0,
        "kind": GENESIS_KIND,
        "key": GENESIS_KEY,
        "action": BASELINE,
        "row_sha256": hashlib.sha256(canonical(note)).hexdigest(),
        "recorded_at": now,
    }
    connection.execute(insert(LedgerEntry.__table__), [genesis | {"leaf_sha256": entry_leaf(genesis).hex()}])
    existing = [
        (table, tuple(row[c.name] for c in table.primary_key.columns), BASELINE)
        for table in recorded_tables()
        for row in read_rows(connection, table)
    ]
    return append(connection, existing, now) if existing else 0
