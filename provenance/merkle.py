"""The Merkle tree of the tamper-evident ledger: RFC 6962 §2.1, with the verification
algorithms as clarified in RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).

Every registry write appends an entry; the entries' leaf hashes are the leaves of this
tree, and a signed tree head pins (size, root). An inclusion proof shows that an entry is
in a pinned tree; a consistency proof shows that a later tree only appended to an earlier
one. Both are checked offline with nothing but the hashes, which is the point: a verifier
need not trust the database that hands it the proof.

Functions take leaf *hashes* (`leaf_hash(entry)`), because that is what the ledger stores.
Generators raise ValueError for a request that has no answer (a leaf that is not in the
tree); verifiers never raise: a claim that does not hold, for whatever reason, is False.
Only the standard library, so that a third party can check a ledger with this file alone.

    RFC 6962: https://www.rfc-editor.org/rfc/rfc6962#section-2.1
    RFC 9162: https://www.rfc-editor.org/rfc/rfc9162#section-2.1
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

HASH_SIZE = 32
# MTH({}) = SHA-256 of nothing (RFC 6962 §2.1).
EMPTY_ROOT = sha256(b"").digest()

# Distinct prefixes for leaves and interior nodes, so that no leaf can be passed off as a
# node or the reverse (the second-preimage attack RFC 6962 §2.1 closes).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one ledger entry."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2): where RFC 6962 cuts D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]), bottom up, one level at a time, without recursion or copying D.

    Pairing neighbours and carrying an odd last node up unchanged builds exactly the tree
    of RFC 6962's recursive definition (left subtrees are always complete), in n - 1
    hashes and no call per node.
    """
    if hi <= lo:
        return EMPTY_ROOT
    prefix = _NODE_PREFIX
    # The first level reads `leaves` in place: a slice of 100k hashes would be a copy.
    level = [sha256(prefix + leaves[i] + leaves[i + 1]).digest() for i in range(lo, hi - 1, 2)]
    if (hi - lo) % 2:
        level.append(leaves[hi - 1])
    while len(level) > 1:
        carried = level[-1] if len(level) % 2 else None
        level = [sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if carried is not None:
            level.append(carried)
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the empty tree's root is SHA-256("")."""
    return _subtree_root(leaves, 0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 6962 §2.1.1: the sibling hashes from the leaf up to the root.

    Walks down from the root; each step hashes only the subtree beside the path, and those
    subtrees are disjoint, so one proof costs at most n hashes.
    """
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is not in a tree of {n} leaves")
    path: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(_subtree_root(leaves, mid, hi))
            hi = mid
        else:
            path.append(_subtree_root(leaves, lo, mid))
            lo = mid
    path.reverse()  # gathered top down; the RFC lists it bottom up
    return path


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 6962 §2.1.2: that D[old_size] is a prefix of D[n].

    The proof from a tree to itself is empty; from the empty tree there is nothing to
    prove, and RFC 6962 defines no proof for it, so old_size 0 is refused.
    """
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from size {old_size} to size {n}: need 0 < old size <= new size")
    proof: list[bytes] = []
    # SUBPROOF(m, D[lo:hi], whole): `whole` stays true while D[lo:hi] starts where the old
    # tree starts, i.e. while the old root itself is a node of this subtree and the
    # verifier already knows it.
    lo, hi, m, whole = 0, n, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_subtree_root(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(_subtree_root(leaves, lo, hi))
    proof.reverse()  # gathered top down; the RFC lists it bottom up
    return proof


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes | bytearray) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`.

    RFC 9162 §2.1.3.2. The index is bound by the proof; the size is only bound through
    the root (a proof for one size can fit a neighbouring size of the same shape), which
    is why a tree head signs size and root together.
    """
    if not 0 <= index < size or not _well_formed(leaf, root, *proof):
        return False
    fn, sn = index, size - 1  # this node's index and the last node's index, level by level
    r = bytes(leaf)
    for p in proof:
        if sn == 0:  # proof longer than the path
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no right sibling is carried up unchanged: skip those levels.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # sn == 0: the path reached the root, not a subtree


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` shows that the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2: the proof is walked once, rebuilding both roots. Equal sizes need
    an empty proof and equal roots; the empty tree (whose root must be SHA-256("")) is a
    prefix of every tree, with an empty proof.
    """
    if not 0 <= old_size <= new_size or not _well_formed(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    # When the old tree is complete its root is a node of the new tree, so the proof
    # leaves it out and the verifier starts from the root it already has.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    # Climb to the lowest level where the old tree's last node is a left child or the
    # old root: below it the old and new trees share everything.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # proof longer than the tree is tall
            return False
        if fn & 1 or fn == sn:
            # c is a left sibling: part of both trees.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # c is a right sibling: only in the new tree.
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
