"""`registry ledger verify`: does the ledger still match itself, its signed heads and the tables?

Four kinds of trouble, each named with the entry it concerns:
- the entries themselves: a seq missing (truncation, a deleted entry) or an entry whose
  content no longer gives its leaf hash (edited, reordered);
- the signed heads: a head not signed under an anchor the user trusts (signed by another
  key), or whose root no longer matches the first entries it covered (history rewritten);
- the tables: a row that changed since its last entry (an SQL UPDATE), a row with no entry
  (inserted around the registry), a row gone while its entry says it exists (deleted);
- a pinned head (`--since`): the current tree must extend it (RFC 6962 consistency proof).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from provenance.anchors import Anchor
from provenance.merkle import consistency_proof, verify_consistency
from registry.db import Store
from registry.errors import RegistryError
from registry.identity import registry_id
from registry.ledger.heads import check_head
from registry.ledger.record import BASELINE, DELETE, GENESIS_KIND
from registry.ledger.rows import read_rows, recorded_tables, row_digest, row_key
from registry.ledger.tree import Tree, prefix_roots, read_tree
from registry.models import LedgerHead

OWN_ROWS = (GENESIS_KIND, "registry_info")  # what every new ledger starts with: not a history it missed


@dataclass
class Problem:
    entry: int | None  # the ledger entry it concerns (None: a row the ledger never saw)
    message: str

    def line(self) -> str:
        return f"entry #{self.entry}: {self.message}" if self.entry is not None else self.message


@dataclass
class LedgerReport:
    size: int
    root: str
    heads: int  # signed heads checked
    baseline: int  # entries that took in rows older than the ledger
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> Problem | None:
        """The earliest entry that no longer matches (rows the ledger never saw come last)."""
        return min(self.problems, key=lambda p: (p.entry is None, p.entry or 0), default=None)

    def summary(self) -> dict[str, Any]:
        first = self.first()
        return {
            "ok": self.ok,
            "size": self.size,
            "root_sha256": self.root,
            "heads_checked": self.heads,
            "baseline_entries": self.baseline,
            "first_problem": first.line() if first else None,
            "problems": [p.line() for p in sorted(self.problems, key=lambda p: (p.entry is None, p.entry or 0))],
            "notes": self.notes,
        }


def verify_ledger(store: Store, anchors: list[Anchor], pinned: Any = None) -> LedgerReport:
    with store.reader() as session:
        connection = session.connection()
        tree = read_tree(connection)
        workspace_id = registry_id(session)
        heads = list(session.scalars(select(LedgerHead).order_by(LedgerHead.id)))
        baseline = sum(e["action"] == BASELINE and e["kind"] not in OWN_ROWS for e in tree.entries)
        report = LedgerReport(tree.size, tree.root().hex(), len(heads), baseline)
        _check_entries(tree, report)
        latest = _check_heads(tree, heads, anchors, workspace_id, report)
        _check_rows(connection, tree, report)
        if pinned is not None:
            _check_pinned(tree, latest, pinned, anchors, workspace_id, report)
    if report.baseline:
        report.notes.append(
            f"the ledger began with {report.baseline} baseline entries: rows older than it are covered as they were "
            "then, changes before it are not"
        )
    return report


def _check_entries(tree: Tree, report: LedgerReport) -> None:
    if tree.gaps:
        report.problems.append(Problem(tree.gaps[0], "missing: the entries jump here (truncated or deleted)"))
    for seq in tree.altered:
        report.problems.append(Problem(seq, "its content no longer gives its leaf hash (edited or reordered)"))


def _check_heads(
    tree: Tree, heads: list[LedgerHead], anchors: list[Anchor], workspace_id: str, report: LedgerReport
) -> tuple[int, bytes] | None:
    """Check every signed head; returns the newest good one (size, root)."""
    roots = prefix_roots(tree.leaves, {head.size for head in heads})
    good = None
    for head in heads:
        try:
            payload = check_head(head.signed, anchors).payload
        except RegistryError as exc:
            report.problems.append(Problem(None, f"head #{head.id} (size {head.size}): {exc}"))
            continue
        size, root = payload["size"], bytes.fromhex(payload["root_sha256"])
        if payload.get("workspace_id") != workspace_id or (size, root.hex()) != (head.size, head.root_sha256):
            report.problems.append(Problem(None, f"head #{head.id} does not belong to this registry's record"))
        elif size > tree.size:
            report.problems.append(
                Problem(tree.size, f"head #{head.id} covers {size} entries, the ledger holds {tree.size} (truncated)")
            )
        elif size and roots.get(size) != root:
            report.problems.append(
                Problem(size - 1, f"the first {size} entries are not those head #{head.id} signed (history rewritten)")
            )
        else:
            good = (size, root)
    return good


def _check_rows(connection: Connection, tree: Tree, report: LedgerReport) -> None:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in tree.entries:
        if entry["kind"] != GENESIS_KIND:
            latest[(entry["kind"], entry["key"])] = entry
    seen = set()
    for table in recorded_tables():
        for row in read_rows(connection, table):
            key = (table.name, row_key(table, row))
            seen.add(key)
            entry = latest.get(key)
            if entry is None:
                report.problems.append(Problem(None, f"{table.name} {key[1]}: a row the ledger never recorded"))
            elif entry["action"] == DELETE:
                report.problems.append(Problem(entry["seq"], f"{table.name} {key[1]} was deleted here but exists"))
            elif row_digest(table, row) != entry["row_sha256"]:
                report.problems.append(Problem(entry["seq"], f"{table.name} {key[1]} changed since this entry"))
    for key, entry in latest.items():
        if key not in seen and entry["action"] != DELETE:
            report.problems.append(Problem(entry["seq"], f"{key[0]} {key[1]} is recorded here but no longer exists"))


def _check_pinned(
    tree: Tree,
    latest: tuple[int, bytes] | None,
    pinned: Any,
    anchors: list[Anchor],
    workspace_id: str,
    report: LedgerReport,
) -> None:
    """The tree now must extend the pinned head: an RFC 6962 consistency proof, made and checked."""
    try:
        payload = check_head(pinned, anchors).payload
    except RegistryError as exc:
        report.problems.append(Problem(None, f"pinned {exc}"))
        return
    old_size, old_root = payload["size"], bytes.fromhex(payload["root_sha256"])
    if payload.get("workspace_id") != workspace_id:
        report.problems.append(Problem(None, "the pinned head belongs to another registry"))
        return
    new_size, new_root = latest if latest and latest[0] >= old_size else (tree.size, tree.root())
    if old_size > new_size:
        report.problems.append(Problem(new_size, f"the pinned head covers {old_size} entries, the ledger {new_size}"))
        return
    proof = consistency_proof(old_size, tree.leaves[:new_size]) if 0 < old_size < new_size else []
    if verify_consistency(old_size, new_size, old_root, new_root, proof):
        report.notes.append(f"consistent with the pinned head ({old_size} entries) up to {new_size} entries")
    else:
        report.problems.append(
            Problem(
                max(old_size - 1, 0), f"not an extension of the pinned head ({old_size} entries): history rewritten"
            )
        )


@dataclass
class RecordMismatch:
    table: str
    key: str
    entry: int | None  # its latest ledger entry, if any
    expected: str  # the row sha256 the ledger recorded
    actual: str  # the row sha256 now, or why there is none


def check_records(connection: Connection, wanted: dict[str, list[str]]) -> list[RecordMismatch]:
    """Rows (table -> keys) that no longer match their latest ledger entries (for audits)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in read_tree(connection).entries:
        latest[(entry["kind"], entry["key"])] = entry
    tables = {table.name: table for table in recorded_tables()}
    mismatches = []
    for name, keys in wanted.items():
        table = tables[name]
        rows = {row_key(table, row): row for row in read_rows(connection, table, _key_tuples(table, keys))}
        for key in keys:
            entry, row = latest.get((name, key)), rows.get(key)
            recorded = entry["row_sha256"] if entry else None
            actual = row_digest(table, row) if row is not None else "missing"
            if entry is None:
                mismatches.append(RecordMismatch(name, key, None, "an entry in the ledger", "none"))
            elif actual != recorded:
                mismatches.append(RecordMismatch(name, key, entry["seq"], str(recorded), actual))
    return mismatches


def _key_tuples(table, keys: list[str]) -> list[tuple]:
    columns = list(table.primary_key.columns)
    converters = [column.type.python_type for column in columns]
    return [tuple(convert(part) for convert, part in zip(converters, key.split("/"))) for key in keys]
