"""Inclusion proofs: that a row, as it is now, is in a signed tree; checkable without the database.

A proof file holds the row's canonical JSON, its latest ledger entry, the audit path from
that entry's leaf to the root of a signed head, the head itself and, when asked with a
pinned head (`--since`), a consistency proof from the pinned tree to that head. Checking it
needs only the file, the pinned head and the trust anchors.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.anchors import Anchor
from provenance.merkle import consistency_proof, inclusion_proof, verify_consistency, verify_inclusion
from registry.errors import NotFoundError, RegistryError
from registry.ledger.heads import check_head, latest_head
from registry.ledger.record import GENESIS_KIND, entry_json, entry_leaf
from registry.ledger.rows import canonical, json_value, read_rows, recorded_tables, row_json
from registry.ledger.tree import read_tree
from registry.models import Dataset, Image, LedgerEntry
from registry.runs import get_run

PROOF_TYPE = "provenoise-ledger-proof"


class ProofFailed(Exception):
    """A well-formed proof that does not prove what it claims (exit 1, like a failed verify)."""


def resolve_item(session: Session, item: str) -> tuple[str, str]:
    """(table, key) named by ITEM: `TABLE:KEY`, a run id (or prefix), or DATASET/IMAGE."""
    tables = {table.name for table in recorded_tables()}
    kind, sep, key = item.partition(":")
    if sep and kind in tables:
        return kind, key
    dataset_name, sep, image_id = item.partition("/")
    if sep:
        image = session.scalar(
            select(Image).join(Dataset).where(Dataset.name == dataset_name, Image.image_id == image_id)
        )
        if image is not None:
            return "images", str(image.id)
    try:
        return "runs", get_run(session, item).id
    except NotFoundError:
        raise RegistryError(
            f"no ledger item {item!r}: give TABLE:KEY (e.g. runs:ID, metrics:42), a run id, or DATASET/IMAGE"
        ) from None


def prove(session: Session, item: str, pinned: Any = None, anchors: list[Anchor] = ()) -> dict[str, Any]:
    """The proof for ITEM's latest entry against the newest signed head that covers it."""
    kind, key = resolve_item(session, item)
    entry = session.scalar(
        select(LedgerEntry).where(LedgerEntry.kind == kind, LedgerEntry.key == key).order_by(LedgerEntry.seq.desc())
    )
    if entry is None:
        raise RegistryError(f"{kind} {key} has no ledger entry")
    head = latest_head(session)
    if head is None or head.size <= entry.seq:
        raise RegistryError("no signed head covers that entry yet: run `registry ledger sign` first")
    tree = read_tree(session.connection())
    leaves = tree.leaves[: head.size]
    document: dict[str, Any] = {
        "type": PROOF_TYPE,
        "entry": json_value(entry_json(tree.entries[entry.seq])),
        "row": _row(session, kind, key),
        "index": entry.seq,
        "audit_path": [node.hex() for node in inclusion_proof(entry.seq, leaves)],
        "head": head.signed,
    }
    if pinned is not None:
        old = check_head(pinned, list(anchors)).payload
        if not 0 < old["size"] <= head.size:
            raise RegistryError(f"the pinned head covers {old['size']} entries; the newest signed head {head.size}")
        document["consistency"] = {
            "from_size": old["size"],
            "from_root_sha256": old["root_sha256"],
            "path": [node.hex() for node in consistency_proof(old["size"], leaves)] if old["size"] < head.size else [],
        }
    return document


def _row(session: Session, kind: str, key: str) -> dict[str, Any] | None:
    if kind == GENESIS_KIND:
        return None
    table = next(t for t in recorded_tables() if t.name == kind)
    column = list(table.primary_key.columns)[0]
    rows = list(read_rows(session.connection(), table, [(column.type.python_type(key),)]))
    return row_json(table, rows[0]) if rows else None


def check_proof(proof: Any, anchors: list[Anchor], pinned: Any = None) -> dict[str, Any]:
    """What a proof shows, after checking every part of it.

    RegistryError for a file that is not a proof at all; ProofFailed naming the part that fails.
    """
    try:
        entry, index, path = proof["entry"], proof["index"], [bytes.fromhex(node) for node in proof["audit_path"]]
        if proof.get("type") != PROOF_TYPE or not isinstance(index, int) or entry["seq"] != index:
            raise ValueError("not a provenoise ledger proof")
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"not a ledger proof: {exc}") from None
    head = _head(proof.get("head"), anchors, "the proof's head")
    row = proof.get("row")
    if entry.get("action") == "delete":
        if row is not None:
            raise ProofFailed("the proof carries a row for an entry that deleted it")
    elif row is None or hashlib.sha256(canonical(row)).hexdigest() != entry.get("row_sha256"):
        raise ProofFailed(f"the row in the proof is not the one entry #{index} recorded")
    root = bytes.fromhex(head["root_sha256"])
    if not verify_inclusion(index, head["size"], entry_leaf(entry), path, root):
        raise ProofFailed(f"entry #{index} is not in the signed tree of {head['size']} entries")
    result = {"entry": index, "kind": entry["kind"], "key": entry["key"], "head_size": head["size"], "pinned": None}
    if pinned is not None:
        result["pinned"] = _check_against_pinned(proof, head, _head(pinned, anchors, "the pinned head"))
    return result


def _head(document: Any, anchors: list[Anchor], what: str) -> dict[str, Any]:
    try:
        return check_head(document, anchors).payload
    except RegistryError as exc:
        raise ProofFailed(f"{what}: {str(exc).removeprefix('ledger head: ')}") from None


def _check_against_pinned(proof: dict[str, Any], head: dict[str, Any], old: dict[str, Any]) -> str:
    if old.get("workspace_id") != head.get("workspace_id"):
        raise ProofFailed("the proof's head and the pinned head belong to different registries")
    if old["size"] == head["size"]:
        if old["root_sha256"] != head["root_sha256"]:
            raise ProofFailed("the proof's head and the pinned head disagree at the same size")
        return "the proof's head is the pinned head"
    consistency = proof.get("consistency")
    if old["size"] > head["size"] or not isinstance(consistency, dict):
        raise ProofFailed(
            f"the proof is against a head of {head['size']} entries, the pinned one has {old['size']}: "
            "ask for a proof with --since PINNED"
        )
    try:
        path = [bytes.fromhex(node) for node in consistency["path"]]
        same_start = (consistency["from_size"], consistency["from_root_sha256"]) == (old["size"], old["root_sha256"])
    except (KeyError, TypeError, ValueError):
        raise RegistryError("the proof's consistency part is malformed") from None
    roots = bytes.fromhex(old["root_sha256"]), bytes.fromhex(head["root_sha256"])
    if not same_start or not verify_consistency(old["size"], head["size"], *roots, path):
        raise ProofFailed("the proof's head does not extend the pinned head: history was rewritten")
    return f"extends the pinned head ({old['size']} entries)"
