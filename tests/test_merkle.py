"""The ledger's Merkle tree (provenance.merkle) against published RFC 6962 test vectors, an
independent recursive transcription of the RFC's definitions, and every proof of small trees.

The vectors below are data copied from the reference implementations (no code was taken):
- transparency-dev/merkle, testonly/constants.go (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1):
  LeafInputs, NodeHashes (level 0, the leaf hashes) and RootHashes;
- transparency-dev/merkle, testonly/reference_test.go (commit 141d627eab770a7e9a2514f46a8b6338e6d90874):
  the expected proofs of TestRefInclusionProof and TestRefConsistencyProof;
- transparency-dev/merkle, proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472):
  the inclusion proof of leaf 2 (0-based) of 3 and the consistency proof 6 -> 7;
- google/certificate-transparency, python/ct/crypto/merkle_test.py
  (commit 4bfca4952a090a76a0755fb0ddc6d288088b83ed): the leaf and node hash vectors, the audit path of
  leaf 848049 in a real log of 3,630,887 entries, and its corrupted consistency proofs.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from provenance.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def h(hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes.split()]


# transparency-dev/merkle testonly/constants.go: LeafInputs().
LEAF_INPUTS = [
    bytes.fromhex(x)
    for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
LEAVES = [leaf_hash(x) for x in LEAF_INPUTS]

# transparency-dev/merkle testonly/constants.go: NodeHashes()[0], the leaf hashes of LeafInputs().
LEAF_HASHES = h("""
    6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
    96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
    0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7
    07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7
    bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
    4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658
    b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f
    46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1
""")

# transparency-dev/merkle testonly/constants.go: RootHashes(), indexed by tree size from 0.
ROOTS = h("""
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
    fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125
    aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77
    d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
    4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4
    76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef
    ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c
    5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
""")

# (index, size, proof): transparency-dev/merkle testonly/reference_test.go TestRefInclusionProof, plus
# {3, 3} of proof/verify_test.go inclusionProofs (1-based there: leaf 2 of 3 here).
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 2, h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")),
    (1, 2, h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")),
    (2, 3, h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        h("""
            6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
            5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
            bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
        """),
    ),
    (
        0,
        8,
        h("""
            96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
            5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
            6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4
        """),
    ),
    (
        5,
        8,
        h("""
            bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
            ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
            d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
        """),
    ),
]

# (old size, new size, proof): transparency-dev/merkle testonly/reference_test.go TestRefConsistencyProof,
# plus {6, 7} of proof/verify_test.go consistencyProofs.
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        h("""
            96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
            5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
            6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4
        """),
    ),
    (
        2,
        5,
        h("""
            5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
            bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b
        """),
    ),
    (
        6,
        8,
        h("""
            0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
            ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0
            d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
        """),
    ),
    (
        6,
        7,
        h("""
            0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a
            b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f
            d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7
        """),
    ),
]

# google/certificate-transparency python/ct/crypto/merkle_test.py, MerkleVerifierTest: the audit path of
# leaf 848049 in a real CT log of 3,630,887 entries (sha256_audit_path, leaf_hash, expected_root_hash).
REAL_LOG_INDEX, REAL_LOG_SIZE = 848049, 3630887
REAL_LOG_LEAF = bytes.fromhex("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78")
REAL_LOG_ROOT = bytes.fromhex("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb")
REAL_LOG_PATH = h("""
    1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd
    0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4
    3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d
    9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe
    0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2
    2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330
    b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048
    933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966
    b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2
    daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45
    7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc
    1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56
    12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66
    29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11
    b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009
    4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8
    86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f
    a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6
    06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1
    f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960
    40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d
    b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a
""")


# --- an independent transcription of RFC 6962 §2.1, recursive on slices, to cross-check against ----------


def _k(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    if m == len(d):
        return [] if complete else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return ref_subproof(m, d[:k], complete) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def flip(x: bytes) -> bytes:
    return bytes([x[0] ^ 0x10]) + x[1:]


def random_leaves(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(rng.randrange(0, 48))) for _ in range(n)]


# --- published vectors ------------------------------------------------------------------------------------


def test_leaf_and_node_hashes_match_published_vectors():
    assert LEAVES == LEAF_HASHES
    # google/certificate-transparency merkle_test.py: TreeHasherTest.sha256_leaves and sha256_nodes.
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert (
        leaf_hash(bytes.fromhex("101112131415161718191a1b1c1d1e1f")).hex()
        == "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"
    )
    left = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    right = bytes.fromhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")
    assert node_hash(left, right).hex() == "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57"


def test_roots_match_published_vectors_for_every_size_up_to_8():
    assert [root(LEAVES[:n]) for n in range(9)] == ROOTS


@pytest.mark.parametrize(
    ("index", "size", "proof"), INCLUSION_VECTORS, ids=[f"{i}-of-{n}" for i, n, _ in INCLUSION_VECTORS]
)
def test_inclusion_proofs_match_published_vectors(index, size, proof):
    assert inclusion_proof(index, LEAVES[:size]) == proof
    assert verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])


@pytest.mark.parametrize(
    ("old", "new", "proof"), CONSISTENCY_VECTORS, ids=[f"{m}-to-{n}" for m, n, _ in CONSISTENCY_VECTORS]
)
def test_consistency_proofs_match_published_vectors(old, new, proof):
    assert consistency_proof(old, LEAVES[:new]) == proof
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_audit_path_from_a_real_ct_log_verifies():
    assert verify_inclusion(REAL_LOG_INDEX, REAL_LOG_SIZE, REAL_LOG_LEAF, REAL_LOG_PATH, REAL_LOG_ROOT)
    assert not verify_inclusion(REAL_LOG_INDEX, REAL_LOG_SIZE, REAL_LOG_LEAF, REAL_LOG_PATH, b"\0" * 32)
    assert not verify_inclusion(REAL_LOG_INDEX + 1, REAL_LOG_SIZE, REAL_LOG_LEAF, REAL_LOG_PATH, REAL_LOG_ROOT)
    assert not verify_inclusion(REAL_LOG_INDEX, REAL_LOG_SIZE, REAL_LOG_LEAF, REAL_LOG_PATH[:-1], REAL_LOG_ROOT)


def test_published_corrupted_consistency_proofs_fail():
    # google/certificate-transparency merkle_test.py: 6 -> 8 with a short proof, a flipped last bit in
    # the new root, in both roots, in the old root; and 5 -> 2 (the new tree is smaller).
    old, new, proof = CONSISTENCY_VECTORS[3]
    old_bad = bytes.fromhex("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ee")
    new_bad = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604329")
    assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:2])
    assert not verify_consistency(old, new, ROOTS[old], new_bad, proof)
    assert not verify_consistency(old, new, old_bad, new_bad, proof)
    assert not verify_consistency(old, new, old_bad, ROOTS[new], proof)
    assert not verify_consistency(5, 2, ROOTS[5], ROOTS[2], CONSISTENCY_VECTORS[2][2])


# --- every proof of random trees --------------------------------------------------------------------------

INCLUSION_SIZES = [*range(1, 41), 63, 64, 65, 100, 127, 128, 129, 200]


def test_proofs_agree_with_the_rfc_definitions():
    leaves = random_leaves(50, seed=1)
    for n in range(51):
        assert root(leaves[:n]) == ref_mth(leaves[:n])
        for i in range(n):
            assert inclusion_proof(i, leaves[:n]) == ref_path(i, leaves[:n])
        for m in range(1, n + 1):
            assert consistency_proof(m, leaves[:n]) == ref_subproof(m, leaves[:n], True)


@pytest.mark.parametrize("n", INCLUSION_SIZES)
def test_every_inclusion_proof_verifies_and_binds_its_claims(n):
    leaves = random_leaves(n, seed=n)
    top = root(leaves)
    other_root = root(random_leaves(n, seed=n + 1000))
    rng = random.Random(n)
    for i in range(n):
        proof = inclusion_proof(i, leaves)
        assert verify_inclusion(i, n, leaves[i], proof, top)
        assert not verify_inclusion(i, n, flip(leaves[i]), proof, top)
        assert not verify_inclusion(i, n, leaves[i], proof, other_root)
        # The proof binds the index: no other leaf position fits it (all of them in small trees).
        wrong = range(n) if n <= 40 else {i - 1, i + 1, i ^ 2, rng.randrange(n)} & set(range(n))
        assert not any(verify_inclusion(j, n, leaves[i], proof, top) for j in wrong if j != i)
        # A tree of another height does not fit it either. (A neighbouring size of the same shape can:
        # only the root binds the size, which is why a tree head signs the two together.)
        assert not verify_inclusion(i, 2 * n, leaves[i], proof, top)
        assert not verify_inclusion(i, n // 2, leaves[i], proof, top)
        for k in range(len(proof)):
            assert not verify_inclusion(i, n, leaves[i], [*proof[:k], flip(proof[k]), *proof[k + 1 :]], top)
        if proof:
            assert not verify_inclusion(i, n, leaves[i], proof[:-1], top)
            assert not verify_inclusion(i, n, leaves[i], proof[1:], top)
        assert not verify_inclusion(i, n, leaves[i], [*proof, top], top)
        assert not verify_inclusion(i, n, leaves[i], [*proof, leaves[i]], top)
        assert not verify_inclusion(i, n, leaves[i], [leaves[i], *proof], top)


def test_every_consistency_proof_verifies_and_binds_its_claims():
    leaves = random_leaves(40, seed=7)
    roots = [root(leaves[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = consistency_proof(m, leaves[:n])
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            assert not verify_consistency(m, n, flip(roots[m]), roots[n], proof)
            assert not verify_consistency(m, n, roots[m], flip(roots[n]), proof)
            for k in range(len(proof)):
                changed = [*proof[:k], flip(proof[k]), *proof[k + 1 :]]
                assert not verify_consistency(m, n, roots[m], roots[n], changed), (m, n, k)
            if proof:
                assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not verify_consistency(m, n, roots[m], roots[n], proof[1:])
                assert not verify_consistency(m, n, roots[n], roots[m], proof)
            assert not verify_consistency(m, n, roots[m], roots[n], [*proof, roots[m]])
            assert not verify_consistency(m, n, roots[m], roots[n], [roots[n], *proof])
            # The old size is bound by the old root the proof must rebuild.
            for wrong_old in {m - 1, m + 1, m ^ 2} - {m}:
                assert not verify_consistency(wrong_old, n, roots[m], roots[n], proof)
            assert not verify_consistency(m, 2 * n, roots[m], roots[n], proof)


def test_large_tree_root_and_proofs_match_the_definition():
    # 100,003 leaves: not a power of two, so every level carries a node. Kept to a single root and a
    # proof of each kind so that this file stays fast; timings belong in bench/, not here.
    leaves = random_leaves(100_003, seed=3)
    top = root(leaves)
    assert top == ref_mth(leaves)
    proof = inclusion_proof(65_537, leaves)
    assert len(proof) == 17 and verify_inclusion(65_537, len(leaves), leaves[65_537], proof, top)
    old = 77_777
    assert verify_consistency(old, len(leaves), root(leaves[:old]), top, consistency_proof(old, leaves))


# --- edges ------------------------------------------------------------------------------------------------


def test_empty_tree():
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert not verify_inclusion(0, 0, EMPTY_ROOT, [], EMPTY_ROOT)
    # The empty tree is a prefix of every tree, with nothing to prove, when its root is the empty root.
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 3, EMPTY_ROOT, ROOTS[3], [])
    assert not verify_consistency(0, 3, ROOTS[1], ROOTS[3], [])
    assert not verify_consistency(0, 3, EMPTY_ROOT, ROOTS[3], [ROOTS[1]])


def test_single_leaf_tree():
    assert root(LEAVES[:1]) == LEAVES[0]
    assert inclusion_proof(0, LEAVES[:1]) == []
    assert verify_inclusion(0, 1, LEAVES[0], [], LEAVES[0])
    assert not verify_inclusion(0, 1, LEAVES[1], [], LEAVES[0])
    assert not verify_inclusion(0, 1, LEAVES[0], [LEAVES[1]], LEAVES[0])
    # An index outside the tree is refused before the hashing, which would accept both of these.
    assert not verify_inclusion(-1, 1, LEAVES[0], [], LEAVES[0])
    assert not verify_inclusion(1, 1, LEAVES[0], [], LEAVES[0])
    assert consistency_proof(1, LEAVES[:1]) == []
    assert verify_consistency(1, 1, LEAVES[0], LEAVES[0], [])
    # Equal sizes need equal roots and an empty proof.
    assert not verify_consistency(1, 1, LEAVES[0], LEAVES[1], [])
    assert not verify_consistency(1, 1, LEAVES[0], LEAVES[0], [LEAVES[0]])


@pytest.mark.parametrize("index", [-1, 8, 9])
def test_inclusion_proof_of_a_leaf_outside_the_tree_raises(index):
    with pytest.raises(ValueError, match="not in a tree of 8"):
        inclusion_proof(index, LEAVES)
    with pytest.raises(ValueError):
        inclusion_proof(0, [])


@pytest.mark.parametrize("old_size", [-1, 0, 9])
def test_consistency_proof_outside_the_tree_raises(old_size):
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(old_size, LEAVES)


def test_verifiers_answer_false_to_malformed_claims():
    # Verifiers check what an untrusted party hands them: every bad claim is False, never an exception.
    proof = inclusion_proof(5, LEAVES)
    assert not verify_inclusion(-1, 8, LEAVES[5], proof, ROOTS[8])
    assert not verify_inclusion(8, 8, LEAVES[5], proof, ROOTS[8])
    assert not verify_inclusion(5, -8, LEAVES[5], proof, ROOTS[8])
    assert not verify_inclusion(5, 8, LEAVES[5][:31], proof, ROOTS[8])
    assert not verify_inclusion(5, 8, LEAVES[5], [*proof[:2], proof[2] + b"\0"], ROOTS[8])
    assert not verify_inclusion(5, 8, LEAVES[5], proof, b"")
    proof = consistency_proof(6, LEAVES)
    assert not verify_consistency(8, 6, ROOTS[8], ROOTS[6], proof)
    assert not verify_consistency(-1, 8, ROOTS[6], ROOTS[8], proof)
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [])
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [*proof[:2], b""])
    assert not verify_consistency(6, 8, ROOTS[6][:16], ROOTS[8], proof)
