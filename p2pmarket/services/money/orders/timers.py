"""Deadlines that run out: a missed delivery refunds, an unconfirmed delivery completes, a
returned rental's deposit goes back when no claim came, an unanswered claim is accepted.
They run in `tick`, never in a background thread, so moving the clock is all a test needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from p2pmarket.clock import Clock
from p2pmarket.config import Settings
from p2pmarket.errors import MarketError
from p2pmarket.models import (
    Order,
    OrderStatus,
)
from p2pmarket.services.money.orders.rules import held, record, release, settle_credit

# The statuses whose timer runs out at `confirm_by`.
_CONFIRM_BY = (OrderStatus.delivered, OrderStatus.returned, OrderStatus.claimed)


def _due(now: int):
    return select(Order).where(
        col(Order.paused_at).is_(None),
        col(Order.timer_failed_at).is_(None),
        or_(
            (Order.status == OrderStatus.paid) & (col(Order.deliver_by) <= now),
            col(Order.status).in_(_CONFIRM_BY) & (col(Order.confirm_by) <= now),
        ),
    )


def anything_due(session: Session, clock: Clock) -> bool:
    """A cheap read: does `tick` have work? (Lets read-only commands skip a write.)"""
    return session.exec(_due(clock.now()).limit(1)).first() is not None


@dataclass(frozen=True)
class Timer:
    operation: str  # the market's key for its payout
    deadline: str  # the Order field it runs out at
    to_seller: Callable[[Order], int]  # the seller's share of what the escrow holds
    target: OrderStatus
    note: str
    what: str  # named in the timeline when it fails


# The timer running for an order in each status, and what happens when it runs out.
TIMERS: dict[OrderStatus, Timer] = {
    OrderStatus.paid: Timer(
        "deadline-refund",
        "deliver_by",
        lambda order: 0,
        OrderStatus.refunded,
        "delivery deadline missed: refunded",
        "the refund for the missed delivery deadline",
    ),
    OrderStatus.delivered: Timer(
        "auto-release",
        "confirm_by",
        held,
        OrderStatus.completed,
        "confirm window ended: released to seller",
        "the release at the end of the confirm window",
    ),
    OrderStatus.returned: Timer(
        "deposit-return",
        "confirm_by",
        lambda order: 0,
        OrderStatus.completed,
        "no claim within the claim window: deposit returned to the renter",
        "returning the deposit at the end of the claim window",
    ),
    OrderStatus.claimed: Timer(
        "claim",
        "confirm_by",
        lambda order: order.claim_amount,
        OrderStatus.completed,
        "the renter did not answer the claim in time: accepted",
        "paying the claim at the end of the answer window",
    ),
}


def _expire(session: Session, clock: Clock, settings: Settings, order: Order, timer: Timer) -> None:
    at = getattr(order, timer.deadline)
    amount = held(order)
    release(session, clock, order, timer.operation, timer.to_seller(order), at=at)
    record(session, order, None, at, timer.target, amount, timer.note)
    settle_credit(session, clock, settings, order)


def tick(session: Session, clock: Clock, settings: Settings) -> list[int]:
    """Run the timers that are due (TIMERS).

    Deterministic: each expiry is recorded at its deadline, not at the moment tick ran.
    Every command runs this first, so one order must never stop the others: each settles
    in its own savepoint, and one that fails (only a damaged store can make a payout
    fail) is rolled back alone and its failure recorded — in the timeline, so the parties
    see why, and on the order, so later commands don't retry it. Returns the orders settled.
    """
    settled = []
    for order in session.exec(_due(clock.now()).order_by(col(Order.id))).all():
        timer = TIMERS[order.status]
        try:
            with session.begin_nested():
                _expire(session, clock, settings, order, timer)
        except MarketError as exc:
            now = clock.now()
            order.timer_failed_at = now
            record(
                session, order, None, now, order.status, note=f"{timer.what} failed: {exc.message}"
            )
        else:
            settled.append(order.id)
    return settled
