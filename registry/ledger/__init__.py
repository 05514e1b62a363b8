"""The ledger: a tamper-evident record of every registry write.

Every ORM write appends, in its own transaction, an entry (table, key, action, sha256 of
the row's RFC 8785 JSON) whose hash is a leaf of an RFC 6962 Merkle tree
(provenance.merkle). Signed tree heads (size, root) are what an outsider pins; inclusion
proofs show a row is in a pinned tree, consistency proofs that a later tree extends it.
`rows` turns rows into canonical JSON, `record` appends entries, `heads` signs tree heads,
`check` compares the ledger with the tables, `proofs` makes and checks proofs offline.
"""
