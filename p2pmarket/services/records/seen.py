"""Rollback noticed: each person's side keeps the chain heads they last saw, outside the store.

Signatures stop forgery, not an older copy of the store put back (a payment undone by
restoring yesterday's file) nor a store that stops growing for one person. Like TUF's
snapshot and timestamp roles, the client remembers what it saw (in the user's config
dir, one file per person and store: its place and the market it holds) and, at the next
login or `verify --as`, a store whose chain is shorter than that, or holds another row
where they saw one, is reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from p2pmarket import files
from p2pmarket.config import Config
from p2pmarket.hashchain import BY_NAME, GENESIS
from p2pmarket.models import Account, ChainHead, Conversation, KeyEvent, Order
from p2pmarket.services.records.chain import Heads


def market_identity(session: Session) -> str:
    """Which market a store holds: the hash of its first market key record. An older copy
    of this market is the same market (its rollback is noticed); a market made anew in the
    same place (a demo home deleted and seeded again) is another, which nobody saw yet."""
    keys = KeyEvent.__table__
    first = session.connection().execute(
        select(keys.c.hash).where(keys.c.user_id.is_(None)).order_by(keys.c.id).limit(1)
    )
    return first.scalar() or GENESIS


def _place(config: Config) -> str:
    return hashlib.sha256(config.db_url.encode()).hexdigest()[:16]


def _path(config: Config, market: str, handle: str) -> Path:
    return config.seen_dir / f"{_place(config)}-{market[:16]}" / f"{handle}.json"


def set_aside(config: Config, suffix: str) -> None:
    """A restore is a rollback chosen on this machine: what people saw of the store it
    replaced goes aside with that store (`<dir>-<suffix>`), so their next login goes on."""
    # The markets kept at this place (`<place>-<market>`; those set aside have a suffix).
    for here in config.seen_dir.glob(f"{_place(config)}-*"):
        if here.name.count("-") == 1:
            # None kept yet; or, left in place, each person is told once.
            with contextlib.suppress(OSError):
                here.replace(here.with_name(f"{here.name}-{suffix}"))


def heads(session: Session, user_id: int | None = None) -> Heads:
    """The chains' heads, one per (kind, owner); with `user_id`, only the chains that person
    sees: their wallets and their orders' escrow (ledger), their orders, their credit, the
    reviews of them, their conversations, their key records, and the one-chain kinds
    (operator acts, checkpoints, the market's key records). A market keeps a head per
    account, order and conversation: remembering all of them after every write would grow
    with the market, not with the person."""
    h = ChainHead.__table__
    query = select(h.c.kind, h.c.owner_id, h.c.last_id, h.c.last_hash)
    if user_id is not None:
        orders, accounts, talks = Order.__table__, Account.__table__, Conversation.__table__
        my_orders = select(orders.c.id).where(
            or_(orders.c.buyer_id == user_id, orders.c.seller_id == user_id)
        )
        my_accounts = select(accounts.c.id).where(
            or_(accounts.c.user_id == user_id, accounts.c.order_id.in_(my_orders))
        )
        my_talks = select(talks.c.id).where(or_(talks.c.a_id == user_id, talks.c.b_id == user_id))
        query = query.where(
            or_(
                # One-chain kinds, and the market's key records. Every kind named, so that
                # each term is a lookup on the heads' key: no write scans all the heads.
                and_(h.c.kind.in_(list(BY_NAME)), h.c.owner_id == 0),
                and_(h.c.kind == "ledger", h.c.owner_id.in_(my_accounts)),
                and_(h.c.kind == "order_events", h.c.owner_id.in_(my_orders)),
                and_(h.c.kind == "chat", h.c.owner_id.in_(my_talks)),
                and_(h.c.kind.in_(["credit_events", "reviews", "keys"]), h.c.owner_id == user_id),
            )
        )
    rows = session.connection().execute(query)
    return {(kind, owner): (last_id, last_hash) for kind, owner, last_id, last_hash in rows}


def remember(config: Config, market: str, handle: str, now: Heads) -> None:
    """What `handle` sees now, whole (at login): it replaces what they remembered."""
    path = _path(config, market, handle)
    files.private_dir(path.parent)
    temp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # writers race
    heads = {f"{k}:{o}": head for (k, o), head in now.items()}
    files.write_private(temp, json.dumps(heads, sort_keys=True))
    temp.replace(path)
    # The writes since the last login are in it now.
    with contextlib.suppress(OSError):
        _moves(path).unlink()


HASH_LENGTH = len(GENESIS)


def _moves(path: Path) -> Path:
    """Beside a person's heads: the heads their writes moved since, one line each."""
    return path.with_suffix(".moves")


def remember_moved(config: Config, market: str, handle: str, moved: Heads) -> None:
    """Add `moved` (the heads one write moved) to what `handle` remembers: appended, one
    line per head, so a write costs what it moved, not what the person ever saw (their
    heads grow with their orders). One write() of O_APPEND: another process of theirs
    appending at once interleaves whole lines; the next login folds them in."""
    path = _path(config, market, handle)
    files.private_dir(path.parent)
    lines = "".join(f"{k}:{o} {i} {h}\n" for (k, o), (i, h) in sorted(moved.items()))
    fd = os.open(_moves(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, lines.encode())
    finally:
        os.close(fd)


def _chain_key(name: str) -> tuple[str, int] | None:
    kind, sep, owner = name.rpartition(":")
    # Else a file from before chains per owner: skipped.
    return (kind, int(owner)) if sep and kind in BY_NAME and owner.isdigit() else None


def last_seen(config: Config, market: str, handle: str) -> Heads:
    """Read before the store is: heads written by another process's commit are then in it.
    The heads of the last login, then each later write's (the newer head of a chain wins)."""
    path = _path(config, market, handle)
    found: Heads = {}
    try:
        for name, head in json.loads(path.read_text()).items():
            key = _chain_key(name)
            if key is not None:
                found[key] = (int(head[0]), str(head[1]))
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        pass
    try:
        moves = _moves(path).read_text().splitlines()
    except (OSError, ValueError):
        moves = []
    for line in moves:
        name, _, rest = line.partition(" ")
        last_id, _, last_hash = rest.partition(" ")
        # A line cut short (the process killed mid-write) is no head.
        whole = last_id.isdigit() and len(last_hash) == HASH_LENGTH
        key = _chain_key(name) if whole else None
        if key is not None and int(last_id) > found.get(key, (0, GENESIS))[0]:
            found[key] = (int(last_id), last_hash)
    return found


def rolled_back(session: Session, seen: Heads, handle: str) -> str | None:
    """One sentence when the store is behind, or off, what `handle` last saw; else None."""
    if not seen:
        return None
    now = heads(session)
    for (name, owner), (seen_id, seen_hash) in sorted(seen.items()):
        kind = BY_NAME[name]
        label = kind.label(owner)
        last_id, last_hash = now.get((name, owner), (0, GENESIS))
        if last_id < seen_id:
            return (
                f"The store is older than what {handle} last saw: its {label} chain ends at "
                f"row {last_id}, {handle} saw row {seen_id} (rolled back, or a stale copy)."
            )
        there = last_hash
        if last_id > seen_id:
            table = kind.model.__table__
            # The hash covers the owner column: a row moved to another chain differs too.
            there = (
                session.connection()
                .execute(select(table.c.hash).where(table.c.id == seen_id))
                .scalar()
            )
        if there != seen_hash:
            return (
                f"The store differs from what {handle} last saw: row {seen_id} of its "
                f"{label} chain was replaced (a forked or rewritten store)."
            )
    return None
