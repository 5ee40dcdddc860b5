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

# (chain kind, owner id) -> (last id, last hash), as chain_head holds them.
Heads = dict[tuple[str, int], tuple[int, str]]


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
    path = _path(config, market, handle)
    files.private_dir(path.parent)
    temp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # writers race
    heads = {f"{k}:{o}": head for (k, o), head in now.items()}
    files.write_private(temp, json.dumps(heads, sort_keys=True))
    temp.replace(path)


def last_seen(config: Config, market: str, handle: str) -> Heads:
    """Read before the store is: heads written by another process's commit are then in it."""
    try:
        raw = json.loads(_path(config, market, handle).read_text())
        found = {}
        for name, head in raw.items():
            kind, sep, owner = name.rpartition(":")
            if sep and kind in BY_NAME:  # else a file from before chains per owner: skip it
                found[kind, int(owner)] = (int(head[0]), str(head[1]))
        return found
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}


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
