"""Records that can't be quietly rewritten: append-only tables chained by hash.

Each chained row stores `prev_hash` (the hash of the row before it in its chain)
and `hash` = sha256(prev_hash + canonical content, id included). Rows of a chain
are only ever added through `append`. Editing,
deleting, inserting or reordering any row breaks the chain at that row.
`chain_head` holds each chain's last hash; updating it inside the write
transaction serialises appends (BEGIN IMMEDIATE on SQLite, a row lock elsewhere).
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum

from sqlmodel import Session, SQLModel

from p2pmarket.models import ChainHead, CreditEvent, Entry, OrderEvent, Review

GENESIS = "0" * 64

# Every append-only table and the name of its chain.
CHAINS: dict[type[SQLModel], str] = {
    Entry: "ledger",
    OrderEvent: "order_events",
    CreditEvent: "credit_events",
    Review: "reviews",
}


def canonical(row: SQLModel) -> bytes:
    fields = {}
    for name in sorted(type(row).model_fields):
        if name == "hash":
            continue
        value = getattr(row, name)
        fields[name] = value.value if isinstance(value, Enum) else value
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(prev_hash: str, row: SQLModel) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()


def append(session: Session, row: SQLModel) -> SQLModel:
    """Add `row` to the end of its chain, filling id, prev_hash and hash.

    Ids of chained rows come from the chain head (last id + 1), so the hash, which
    covers the id, is computed before the single INSERT.
    """
    name = CHAINS[type(row)]
    head = session.get(ChainHead, name)
    if head is None:
        head = ChainHead(name=name, last_id=0, last_hash=GENESIS)
    row.id = head.last_id + 1
    row.prev_hash = head.last_hash
    row.hash = digest(row.prev_hash, row)
    head.last_id, head.last_hash = row.id, row.hash
    session.add_all([row, head])
    return row
