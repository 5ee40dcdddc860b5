"""What a hash chain is: which rows form one, who owns each, and the hash of a row.

Every append-only table is split into chains by an owner column: a ledger entry belongs to
its account's chain, an order event to its order's, and so on. Each row stores the hash of
the row before it in its own chain (`prev_hash`) and its `hash` = sha256(prev_hash +
canonical content, id and prev_hash included). The kernel holds this so the services that
append and verify (services/records/) and the migration that re-chains an older store
(store/migrations.py) hash alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import ColumnElement, func
from sqlmodel import SQLModel

from p2pmarket.models import (
    Checkpoint,
    CreditEvent,
    DisputeNote,
    Entry,
    KeyEvent,
    Message,
    OperatorEvent,
    OrderEvent,
    Review,
)

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainKind:
    """One chained table: its name in `chain_head.kind`, and the column naming each chain's
    owner (None: the whole table is one chain, owner 0)."""

    name: str
    model: type[SQLModel]
    owner: str | None
    # What the owner is, for a person reading a problem ("ledger account 7").
    owner_noun: str = ""

    def owner_of(self, row: object) -> int:
        """The owner's id; 0 for a one-chain table, and for a nullable owner left empty (the
        market's own key records: ids start at 1, so 0 is nobody's)."""
        owner = getattr(row, self.owner) if self.owner else 0
        return owner if owner is not None else 0

    def owner_column(self) -> ColumnElement[int] | None:
        """The owner as SQL, matching `owner_of` (NULL read as 0 where the column allows it)."""
        if not self.owner:
            return None
        column = self.model.__table__.c[self.owner]
        return func.coalesce(column, 0) if column.nullable else column

    def label(self, owner_id: int) -> str:
        return f"{self.name} {self.owner_noun} {owner_id}" if self.owner else self.name


# Reviews are chained per reviewed person: that is the record a person's reputation rests
# on and exports (an order has at most two reviews, a chain each would double the heads).
# The operator's acts are rare: one chain. Checkpoints are one chain over all heads.
# Key records (services/records/signing.py) are chained per the person whose key they
# publish, the market's own as owner 0: a person's key history is what every signature
# of theirs is checked against and it is theirs alone to extend (a rotation is signed by
# their old key), so one chain per person keeps it whole and apart, and a first login
# or rotation moves only that person's head (no market-wide head to contend on PostgreSQL).
KINDS: tuple[ChainKind, ...] = (
    ChainKind("ledger", Entry, "account_id", "account"),
    ChainKind("order_events", OrderEvent, "order_id", "order"),
    ChainKind("credit_events", CreditEvent, "user_id", "person"),
    ChainKind("reviews", Review, "subject_id", "person"),
    ChainKind("operator_events", OperatorEvent, None),
    ChainKind("chat", Message, "conversation_id", "conversation"),
    ChainKind("checkpoints", Checkpoint, None),
    ChainKind("keys", KeyEvent, "user_id", "person"),
    ChainKind("disputes", DisputeNote, "order_id", "order"),
)
KIND_OF: dict[type[SQLModel], ChainKind] = {k.model: k for k in KINDS}
BY_NAME: dict[str, ChainKind] = {k.name: k for k in KINDS}


def canonical(fields: Mapping[str, object]) -> bytes:
    """A row's content as bytes: every column but `hash`, sorted, enums as their values."""
    clean = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in fields.items()
        if name != "hash"
    }
    return json.dumps(clean, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(prev_hash: str, fields: Mapping[str, object]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(fields)).hexdigest()


def row_fields(row: SQLModel) -> dict[str, object]:
    return {name: getattr(row, name) for name in type(row).model_fields}
