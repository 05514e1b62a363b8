"""The ledger's entries and their Merkle tree, read back and recomputed from content.

Stored leaf hashes are never trusted: every leaf is recomputed from its entry, so an
edited entry shows even when its stored hash was edited with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from provenance.merkle import node_hash
from provenance.merkle import root as merkle_root
from registry.ledger.record import entry_leaf
from registry.models import LedgerEntry


@dataclass
class Tree:
    entries: list[dict[str, Any]]  # as stored, in seq order
    leaves: list[bytes] = field(default_factory=list)  # recomputed from each entry's content
    altered: list[int] = field(default_factory=list)  # seqs whose stored leaf hash no longer matches
    gaps: list[int] = field(default_factory=list)  # positions where the seq sequence breaks

    @property
    def size(self) -> int:
        return len(self.leaves)

    def root(self, size: int | None = None) -> bytes:
        return merkle_root(self.leaves[: self.size if size is None else size])


def read_tree(connection: Connection) -> Tree:
    rows = connection.execute(select(LedgerEntry.__table__).order_by(LedgerEntry.seq)).mappings()
    tree = Tree([])
    for position, row in enumerate(rows):
        entry = dict(row)
        tree.entries.append(entry)
        leaf = entry_leaf(entry)
        tree.leaves.append(leaf)
        if entry["seq"] != position:
            tree.gaps.append(position)
        if leaf.hex() != entry["leaf_sha256"]:
            tree.altered.append(entry["seq"])
    return tree


def prefix_roots(leaves: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The root of every prefix of `leaves` whose size is asked for, in one pass.

    An RFC 6962 root is its perfect subtrees ("peaks", largest first) folded from the
    right; appending a leaf merges equal peaks like binary carry.
    """
    wanted = {size for size in sizes if 0 < size <= len(leaves)}
    roots: dict[int, bytes] = {}
    peaks: list[tuple[int, bytes]] = []  # (height, hash), left to right
    for count, leaf in enumerate(leaves, start=1):
        height, node = 0, leaf
        while peaks and peaks[-1][0] == height:
            node = node_hash(peaks.pop()[1], node)
            height += 1
        peaks.append((height, node))
        if count in wanted:
            folded = peaks[-1][1]
            for _, left in reversed(peaks[:-1]):
                folded = node_hash(left, folded)
            roots[count] = folded
    return roots
