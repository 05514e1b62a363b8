"""Signed tree heads: the ledger's size and root, signed with the workspace key.

A head signed with the workspace's own key proves nothing to whoever holds that key; its
worth is in copies pinned elsewhere (`registry ledger head > head.json`), from which a
consistency proof shows that later history only extended what was pinned.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provenance.anchors import Anchor
from provenance.keys import SigningCredentials
from provenance.signed_documents import DocumentError, VerifiedDocument, sign_document, verify_document
from registry.db import Store, utcnow
from registry.errors import RegistryError
from registry.identity import registry_id
from registry.ledger.record import TIMING
from registry.ledger.tree import read_tree
from registry.models import LedgerEntry, LedgerHead

HEAD_TYPE = "provenoise-ledger-head"


def sign_head(store: Store, credentials: SigningCredentials, reason: str) -> LedgerHead:
    """Sign the ledger as it stands (refusing a ledger whose entries no longer match their hashes)."""
    started = time.perf_counter()
    with store.transaction() as session:
        tree = read_tree(session.connection())
        if tree.altered or tree.gaps:
            first = (tree.altered or tree.gaps)[0]
            raise RegistryError(f"the ledger is damaged at entry #{first}; run `registry ledger verify` before signing")
        payload = {
            "type": HEAD_TYPE,
            "workspace_id": registry_id(session),
            "size": tree.size,
            "root_sha256": tree.root().hex(),
        }
        document = sign_document(payload, credentials)
        head = LedgerHead(
            size=tree.size, root_sha256=payload["root_sha256"], signed=document, reason=reason, created_at=utcnow()
        )
        session.add(head)
    TIMING.head_seconds += time.perf_counter() - started
    return head


def latest_head(session: Session) -> LedgerHead | None:
    return session.scalar(select(LedgerHead).order_by(LedgerHead.id.desc()).limit(1))


def current_head(store: Store, credentials: SigningCredentials, reason: str) -> LedgerHead:
    """The newest signed head, signing a new one first when entries were appended since."""
    with store.reader() as session:
        head = latest_head(session)
        size = session.scalar(select(func.count()).select_from(LedgerEntry))
    if head is not None and head.size == size:
        return head
    return sign_head(store, credentials, reason)


def check_head(document: Any, anchors: list[Anchor]) -> VerifiedDocument:
    """A head document's payload, after its signature and chain check out; RegistryError otherwise."""
    try:
        verified = verify_document(document, anchors)
    except DocumentError as exc:
        raise RegistryError(f"ledger head: {exc}") from None
    payload = verified.payload
    if payload.get("type") != HEAD_TYPE or not isinstance(payload.get("size"), int):
        raise RegistryError("ledger head: not a provenoise ledger head")
    try:
        bytes.fromhex(payload["root_sha256"])
    except (KeyError, TypeError, ValueError):
        raise RegistryError("ledger head: its root is not a sha256") from None
    return verified
