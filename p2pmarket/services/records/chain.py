"""Hash chains: appends to the chains of hashchain.py, one head per owner, and checkpoints.

Ledger entries, order events, credit events, reviews, the operator's acts and chat
messages are appended here and nowhere else; records.audit verifies them. Any edit,
deletion, insertion or reordering breaks a hash, a link or a head; a checkpoint records
every head, so deleting a chain's last rows and moving its head back is caught too.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update
from sqlmodel import Session, SQLModel

from p2pmarket import hashchain
from p2pmarket.clock import Clock
from p2pmarket.hashchain import GENESIS, KIND_OF, KINDS
from p2pmarket.models import ChainHead, Checkpoint, CheckpointHead, Signature
from p2pmarket.store import ports


def digest(prev_hash: str, row: SQLModel) -> str:
    return hashchain.digest(prev_hash, hashchain.row_fields(row))


# Core statements, built once (appends run on every payment). Chained tables and the
# heads are written only here, so reading through the connection (no autoflush) sees
# everything this transaction appended.
_HEADS = ChainHead.__table__
# (chain kind, owner id) -> (last id, last hash), as chain_head holds them.
Heads = dict[tuple[str, int], tuple[int, str]]
HEADS_PER_READ = 200


@functools.cache
def _read_heads(count: int, lock: bool) -> Select:
    """The heads of `count` chains (keys bound as k0, o0, k1, o1 …), in key order; `lock`:
    FOR UPDATE, so two writers lock shared heads in the same order.

    ORed key lookups, not a tuple IN: SQLite answers a row-value IN by scanning every head,
    and with a head per account, order and conversation each append would read the whole
    market's. Built once per count (an append touches a handful of chains).
    """
    query = (
        select(_HEADS.c.kind, _HEADS.c.owner_id, _HEADS.c.last_id, _HEADS.c.last_hash)
        .where(
            or_(
                *(
                    and_(
                        _HEADS.c.kind == bindparam(f"k{i}"), _HEADS.c.owner_id == bindparam(f"o{i}")
                    )
                    for i in range(count)
                )
            )
        )
        .order_by(_HEADS.c.kind, _HEADS.c.owner_id)
    )
    return query.with_for_update() if lock else query


def _heads(connection, keys: Sequence[tuple[str, int]], *, lock: bool) -> Heads:
    """The heads of the chains `keys` (sorted) that have one."""
    found = {}
    # In key order, a chunk at a time (SQLite bounds an expression's depth).
    for start in range(0, len(keys), HEADS_PER_READ):
        chunk = keys[start : start + HEADS_PER_READ]
        params = {f"k{i}": k for i, (k, _) in enumerate(chunk)}
        params.update((f"o{i}", o) for i, (_, o) in enumerate(chunk))
        for k, o, last_id, last_hash in connection.execute(_read_heads(len(chunk), lock), params):
            found[k, o] = (last_id, last_hash)
    return found


_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.kind == bindparam("k"), _HEADS.c.owner_id == bindparam("o"))
    .values(last_id=bindparam("lid"), last_hash=bindparam("lhash"))
)
_NEW_HEAD = insert(_HEADS).values(
    kind=bindparam("k"),
    owner_id=bindparam("o"),
    last_id=bindparam("lid"),
    last_hash=bindparam("lhash"),
    checkpointed_id=0,
)
_INSERTS = {k.model: insert(k.model.__table__) for k in KINDS}
_SIGNATURES = insert(Signature.__table__)


def append(session: Session, row: SQLModel) -> SQLModel:
    """Add `row` to the end of its owner's chain, filling id, prev_hash and hash."""
    return append_all(session, [row])[0]


def append_all(session: Session, rows: Sequence[SQLModel]) -> list[SQLModel]:
    """Add `rows`, in order, each to the end of its owner's chain (row.account_id, …).

    The rows may be of several tables (a payment's ledger entries and its order's event):
    one append per transaction reads and moves all its heads with one statement each.
    Only the heads of the chains the rows belong to are read (FOR UPDATE, in key order, so
    two writers lock shared heads in the same order) and moved. The hash covers the id:
    the store gives the new rows their ids first (store/ports.py RowIds), so each row is
    inserted once, whole (no UPDATE of its hash, no row-by-row RETURNING). Core
    statements, not the ORM's unit of work: the rows are written now, and no head is held
    as a stale object.
    """
    rows = list(rows)
    if not rows:
        return rows
    keyed = [(KIND_OF[type(row)], row) for row in rows]
    keys = sorted({(kind.name, kind.owner_of(row)) for kind, row in keyed})
    connection = session.connection()
    found = _heads(connection, keys, lock=True)
    by_model: dict[type[SQLModel], list[SQLModel]] = {}
    for kind, row in keyed:
        by_model.setdefault(kind.model, []).append(row)
    ids = ports.of(session).ids.reserve(
        connection, {model.__tablename__: len(group) for model, group in by_model.items()}
    )
    for model, group in by_model.items():
        for row, row_id in zip(group, ids[model.__tablename__], strict=True):
            row.id = row_id
    moved: dict[tuple[str, int], tuple[int, str]] = {}
    for kind, row in keyed:
        key = (kind.name, kind.owner_of(row))
        row.prev_hash = moved[key][1] if key in moved else found.get(key, (0, GENESIS))[1]
        row.hash = digest(row.prev_hash, row)
        moved[key] = (row.id, row.hash)
    for model, group in by_model.items():
        connection.execute(_INSERTS[model], [hashchain.row_fields(r) for r in group])
    # Who acts signs what they append (services/records/signing.py puts the signers there).
    signers = session.info.get("signers")
    if signers is not None:
        signed = [s for group in by_model.values() for s in signers.sign(connection, group)]
        if signed:
            connection.execute(_SIGNATURES, signed)
    heads = [
        {"k": k, "o": o, "lid": last_id, "lhash": last_hash}
        for (k, o), (last_id, last_hash) in moved.items()
    ]
    new = [h for h in heads if (h["k"], h["o"]) not in found]
    old = [h for h in heads if (h["k"], h["o"]) in found]
    if new:
        connection.execute(_NEW_HEAD, new)
    if old:
        connection.execute(_MOVE_HEAD, old)
    session.info.setdefault("moved_chains", set()).update(moved)
    return rows


def moved_heads(session: Session) -> Heads:
    """The heads of the chains this transaction appended to, as they stand now (a savepoint
    rolled back took its appends with it): what the person acting saw last of those
    chains, read by their keys alone (no head of any other chain)."""
    keys = sorted(session.info.get("moved_chains", ()))
    return _heads(session.connection(), keys, lock=False) if keys else {}


# ------------------------------------------------------------------------ checkpoints

_CHECKPOINT_HEADS = insert(CheckpointHead.__table__)
_SEALED = (
    update(_HEADS)
    .where(
        _HEADS.c.kind == bindparam("k"),
        _HEADS.c.owner_id == bindparam("o"),
        _HEADS.c.last_id == bindparam("lid"),
    )
    .values(checkpointed_id=bindparam("lid"))
)
# Every chain but the checkpoints' own: a checkpoint can't record the head it moves.
RECORDED = tuple(k for k in KINDS if k.model is not Checkpoint)


def heads_digest(heads: Iterable[tuple[str, int, int, str]]) -> str:
    """sha256 over (kind, owner, last id, last hash) rows, sorted: what a checkpoint binds."""
    lines = "".join(f"{k}:{o}:{i}:{h}\n" for k, o, i, h in sorted(heads))
    return hashlib.sha256(lines.encode()).hexdigest()


def checkpoint_due(session: Session, clock: Clock, every: int) -> bool:
    """A cheap read for the tick: is the latest checkpoint older than `every` seconds, and
    has any head moved since?"""
    connection = session.connection()
    latest = connection.execute(select(func.max(Checkpoint.__table__.c.at))).scalar()
    if latest is not None and latest > clock.now() - every:
        return False
    moved = select(_HEADS.c.kind).where(
        _HEADS.c.last_id != _HEADS.c.checkpointed_id,
        _HEADS.c.kind.in_([k.name for k in RECORDED]),
    )
    return connection.execute(moved.limit(1)).first() is not None


def checkpoint(session: Session, clock: Clock) -> Checkpoint | None:
    """Record every chain head that moved since the last checkpoint (None: none moved).

    One scan of the heads, no hot row: appends never touch the checkpoints, and on
    PostgreSQL a head moved by a writer meanwhile is simply recorded by the next one.
    """
    connection = session.connection()
    moved = connection.execute(
        select(_HEADS.c.kind, _HEADS.c.owner_id, _HEADS.c.last_id, _HEADS.c.last_hash).where(
            _HEADS.c.last_id != _HEADS.c.checkpointed_id,
            _HEADS.c.kind.in_([k.name for k in RECORDED]),
        )
    ).all()
    if not moved:
        return None
    marks = {
        k.name: connection.execute(
            select(func.coalesce(func.max(k.model.__table__.c.id), 0))
        ).scalar_one()
        for k in RECORDED
    }
    row = append(
        session,
        Checkpoint(
            at=clock.now(),
            heads=len(moved),
            digest=heads_digest(moved),
            marks=json.dumps(marks, sort_keys=True),
        ),
    )
    recorded = [{"k": k, "o": o, "lid": i, "lhash": h} for k, o, i, h in moved]
    connection.execute(
        _CHECKPOINT_HEADS,
        [
            {
                "checkpoint_id": row.id,
                "kind": h["k"],
                "owner_id": h["o"],
                "last_id": h["lid"],
                "last_hash": h["lhash"],
            }
            for h in recorded
        ],
    )
    connection.execute(_SEALED, recorded)
    return row
