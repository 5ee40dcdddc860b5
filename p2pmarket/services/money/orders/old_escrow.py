"""Stores from before escrow per order (schema v7): their single ESCROW account is split
into the escrow of each order it holds money for, once, at Market.open."""

from __future__ import annotations

from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.models import (
    Account,
    AccountKind,
    Order,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.money.orders.rules import HELD


def _old_escrow_orders(session: Session) -> list[tuple[int, int]]:
    """(id, amount) of the orders whose money still sits in a pre-v6 store's single ESCROW:
    held, with no escrow of their own."""
    own = select(Account.id).where(Account.order_id == Order.id)
    return session.exec(
        select(Order.id, Order.amount)
        .where(col(Order.status).in_(HELD), ~own.exists())
        .order_by(col(Order.id))
    ).all()


def old_escrow_to_split(session: Session) -> bool:
    """True if a store from before v6 still holds money in its single ESCROW (a read)."""
    return (
        session.exec(
            select(Account.id).where(
                Account.kind == AccountKind.escrow,
                col(Account.order_id).is_(None),
                Account.balance != 0,
            )
        ).first()
        is not None
    )


def split_old_escrow(session: Session, clock: Clock) -> int:
    """Move a pre-v6 store's single ESCROW into the escrow of each order it holds money for.

    One chained transfer, the old ESCROW paying each held order's amount into that order's
    own account, so verify's sums still hold and every later release reads one order's
    row. Left alone (verify reports it) when the old balance is not what those orders
    total: that store's ledger is damaged. Returns how many orders were given their escrow.
    """
    old = ledger.old_escrow(session)
    held = _old_escrow_orders(session)
    if old is None or not held or old.balance != sum(amount for _, amount in held):
        return 0
    ledger.transfer(
        session,
        clock,
        key=f"{ledger.MARKET_SPACE}escrow_split",
        kind="escrow_split",
        legs=[
            (old, -old.balance),
            *((ledger.escrow(session, order_id), amount) for order_id, amount in held),
        ],
        params={"orders": [order_id for order_id, _ in held]},
    )
    return len(held)
