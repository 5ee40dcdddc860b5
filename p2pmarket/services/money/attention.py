"""What needs a person's attention now: orders waiting on them, running deadlines, disputes.

The home screen and the mediation queue read these; the rules they summarise stay in
`orders` (who may do what) and `OrderView.countdowns` (which timers run).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from p2pmarket.clock import countdown
from p2pmarket.models import User
from p2pmarket.services.money import orders
from p2pmarket.services.money.orders import slots
from p2pmarket.services.money.orders.views import STARTS

# The actions that move an order forward; cancel, dispute, extend and a claim on a
# rental's deposit are always optional.
NEXT_STEPS = (
    "accept",
    "pay",
    "deliver",
    "confirm",
    "resolve",
    "handover",
    "return",
    "accept-claim",
)


@dataclass(frozen=True)
class Waiting:
    order: orders.OrderView
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Deadline:
    order_id: int
    title: str
    timer: str
    left: str


def waiting_on(order: orders.OrderView, me: str, role: str) -> tuple[str, ...]:
    """The steps only `me` can take to move this order forward (empty: not waiting on me)."""
    allowed = orders.allowed_actions(order, me, role)
    return tuple(a for a in NEXT_STEPS if a in allowed)


def my_open_orders(session: Session, user: User) -> list[Waiting]:
    """My open orders, the ones waiting on me first."""
    found = orders.list_orders(session, user.id, open_only=True)
    rows = [Waiting(o, waiting_on(o, user.handle, str(user.role))) for o in found]
    return sorted(rows, key=lambda w: (not w.steps, -w.order.id))


def deadlines(open_orders: list[orders.OrderView], now: int) -> list[Deadline]:
    """Every running timer of these orders, soonest first is left to the countdown text."""
    out = []
    for o in open_orders:
        for timer, left in o.countdowns(now).items():
            if timer not in STARTS:
                out.append(Deadline(o.id, o.title, timer, left))
    return out


@dataclass(frozen=True)
class Reminder:
    """A booked slot coming up: the reminder due now (24 h or 1 h before), to both sides."""

    order_id: int
    title: str
    which: str
    slot_start: int
    starts_in: str


def reminders(open_orders: list[orders.OrderView], now: int) -> list[Reminder]:
    """The reminders due now for these orders' slots, soonest slot first.

    Derived from the slot and the clock (the rule is `slots.reminder`), so Home shows it
    from 24 h before, says "1 h" from 1 h before, and drops it when the slot starts; the
    inbox keeps each as an item the market's tick writes once (orders/timers.py).
    """
    due = []
    for o in open_orders:
        which = slots.reminder(o.slot_start, now)
        if which is not None:
            due.append(Reminder(o.id, o.title, which, o.slot_start, countdown(o.slot_start - now)))
    return sorted(due, key=lambda r: r.slot_start)


def mediation_queue(session: Session, viewer: User) -> list[orders.OrderView]:
    """Disputed orders a mediator may resolve (not their own). Members are refused."""
    return orders.list_orders(session, viewer.id, side="mediating")
