"""Hash chains: every append-only table is a chain, each row holding the hash of the one before.

The ledger's entries, order events, credit events, reviews and the operator's acts are
appended here and nowhere else; records.verify walks them. Any edit, deletion, insertion
or reordering breaks a hash or the head.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, SQLModel, select

from p2pmarket.models import (
    ChainHead,
    CreditEvent,
    Entry,
    KeyEvent,
    OperatorEvent,
    OrderEvent,
    Review,
)

GENESIS = "0" * 64
# Every append-only table and the name of its chain.
CHAINS: dict[type[SQLModel], str] = {
    Entry: "ledger",
    OrderEvent: "order_events",
    CreditEvent: "credit_events",
    Review: "reviews",
    OperatorEvent: "operator_events",
    KeyEvent: "keys",
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


# Core statements, built once (appends run on every payment). Chained tables and the
# heads are written only by `append_all`, so reading through the connection (no
# autoflush) sees everything this transaction appended.
_HEADS = ChainHead.__table__
# FOR UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the only write lock):
# two writers can never both extend the same head and fork the chain.
_HEAD = (
    select(_HEADS.c.last_id, _HEADS.c.last_hash)
    .where(_HEADS.c.name == bindparam("chain"))
    .with_for_update()
)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.name == bindparam("chain"))
    .values(last_id=bindparam("last_id"), last_hash=bindparam("last_hash"))
)
_NEW_HEAD = insert(_HEADS).values(
    name=bindparam("chain"), last_id=bindparam("last_id"), last_hash=bindparam("last_hash")
)
_INSERTS = {model: insert(model.__table__) for model in CHAINS}


def append(session: Session, row: SQLModel) -> SQLModel:
    """Add `row` to the end of its chain, filling id, prev_hash and hash."""
    return append_all(session, [row])[0]


def append_all(session: Session, rows: list[SQLModel]) -> list[SQLModel]:
    """Add `rows`, in order, to the end of their chain: one head read, one insert, one head write.

    Ids of chained rows come from the chain head (last id + 1), so the hash, which
    covers the id, is computed before the INSERT. Core statements, not the ORM's unit
    of work: the rows are written now, and the head is never held as a stale object.
    """
    model = type(rows[0])
    if any(type(row) is not model for row in rows):
        raise ValueError("append_all takes rows of one chain")
    name = CHAINS[model]
    connection = session.connection()
    head = connection.execute(_HEAD, {"chain": name}).first()
    last_id, last_hash = head if head is not None else (0, GENESIS)
    for row in rows:
        row.id, row.prev_hash = last_id + 1, last_hash
        row.hash = digest(row.prev_hash, row)
        last_id, last_hash = row.id, row.hash
    connection.execute(
        _INSERTS[model], [{f: getattr(row, f) for f in model.model_fields} for row in rows]
    )
    # Who acts signs what they append (services/records/signing.py puts the signers there).
    signers = session.info.get("signers")
    if signers is not None:
        signers.sign(connection, rows)
    moved = {"chain": name, "last_id": last_id, "last_hash": last_hash}
    connection.execute(_NEW_HEAD if head is None else _MOVE_HEAD, moved)
    return rows
