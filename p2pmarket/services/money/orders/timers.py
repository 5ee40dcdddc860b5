"""Deadlines that run out: a missed delivery refunds, an unconfirmed delivery completes, a
returned rental's deposit goes back when no claim came, an unanswered claim is accepted.
They run in `tick`, never in a background thread, so moving the clock is all a test needs.

The tick also tells people what is coming: a day before a revoke window, a delivery
deadline or a confirm window ends, and 24 h and 1 h before a booked slot (to both sides),
an item in the inbox (`notify`), each written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from p2pmarket.clock import DAY, Clock
from p2pmarket.config import Settings
from p2pmarket.errors import MarketError
from p2pmarket.models import (
    InboxKind,
    Order,
    OrderStatus,
)
from p2pmarket.services.market import availability
from p2pmarket.services.money.orders import slots
from p2pmarket.services.money.orders.rules import OPEN, held, pay_out, record, settle_credit
from p2pmarket.services.trust import inbox

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
    to_seller, amount = timer.to_seller(order), held(order)
    pay_out(
        session,
        clock,
        order,
        timer.operation,
        to_seller,
        None,
        at,
        timer.target,
        amount,
        timer.note,
    )
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


# How long before a deadline ends it is told.
SOON = DAY


@dataclass(frozen=True)
class Soon:
    """A deadline told a day before it ends: the Order field, the status it runs in, who
    must act (buyer or seller) and what they read."""

    deadline: str
    status: OrderStatus
    side: str
    words: str


SOON_TIMERS = (
    Soon(
        "revoke_until",
        OrderStatus.paid,
        "buyer",
        "you may revoke it until {when}; later only a dispute",
    ),
    Soon(
        "deliver_by",
        OrderStatus.paid,
        "seller",
        "deliver it by {when}, or it is refunded to the buyer",
    ),
    Soon(
        "confirm_by",
        OrderStatus.delivered,
        "buyer",
        "confirm it by {when}, or it completes and the seller is paid",
    ),
)
_AHEAD = max(before for before, _ in slots.REMINDERS)


@dataclass(frozen=True)
class Notice:
    user_id: int
    kind: InboxKind
    text: str
    order_id: int
    at: int
    key: str


def _soon(now: int):
    def ends_soon(field: str):
        deadline = getattr(Order, field)
        return (col(deadline) > now) & (col(deadline) <= now + SOON)

    return select(Order).where(
        col(Order.paused_at).is_(None),
        col(Order.timer_failed_at).is_(None),
        or_(
            (Order.status == OrderStatus.paid) & ends_soon("revoke_until"),
            (Order.status == OrderStatus.paid) & ends_soon("deliver_by"),
            (Order.status == OrderStatus.delivered) & ends_soon("confirm_by"),
            col(Order.status).in_(OPEN)
            & (col(Order.slot_start) > now)
            & (col(Order.slot_start) <= now + _AHEAD),
        ),
    )


def _notices_of(order: Order, now: int, zone: str) -> list[Notice]:
    name = f"Order #{order.id} ({order.title[:60]})"
    out = []
    for soon in SOON_TIMERS:
        deadline = getattr(order, soon.deadline)
        if order.status == soon.status and deadline is not None and now < deadline <= now + SOON:
            user = order.buyer_id if soon.side == "buyer" else order.seller_id
            words = soon.words.format(when=availability.local(deadline, zone))
            out.append(
                Notice(
                    user,
                    InboxKind.deadline,
                    f"{name}: {words}.",
                    order.id,
                    max(deadline - SOON, order.created_at),
                    f"deadline:{order.id}:{soon.deadline}:{deadline}",
                )
            )
    which = slots.reminder(order.slot_start, now)
    if which is not None and order.status in OPEN:
        before = next(b for b, n in slots.REMINDERS if n == which)
        when = availability.local(order.slot_start, zone)
        for user in (order.buyer_id, order.seller_id):
            out.append(
                Notice(
                    user,
                    InboxKind.reminder,
                    f"Reminder: {name} starts in {which}, at {when}.",
                    order.id,
                    max(order.slot_start - before, order.created_at),
                    f"reminder:{order.id}:{which}:{order.slot_start}",
                )
            )
    return out


def notices(session: Session, clock: Clock, settings: Settings) -> list[Notice]:
    """The deadline and slot reminders due now that nobody was told yet."""
    now = clock.now()
    due = [n for o in session.exec(_soon(now)).all() for n in _notices_of(o, now, settings.zone)]
    told = inbox.existing_keys(session, [(n.user_id, n.key) for n in due])
    return [n for n in due if (n.user_id, n.key) not in told]


def notify(session: Session, clock: Clock, settings: Settings) -> int:
    """Put the due notices in their people's inboxes; how many."""
    due = notices(session, clock, settings)
    for n in due:
        inbox.add(session, n.user_id, n.kind, n.text, ("order", n.order_id), n.at, n.key)
    return len(due)
