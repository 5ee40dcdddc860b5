"""Rentals: goods by the day, rented for a period with a deposit the owner sets.

paid (rent and deposit in escrow, two postings) → handed_over (handover, the owner) →
returned (the owner confirms it came back: the rent is released to the owner) → the
deposit goes back to the renter when the claim window ends (timers.py), unless the owner
claims part or all of it first, with a reason → claimed → the renter accepts (or stays
silent until the answer window ends) or disputes, and a mediator splits the deposit.
A return later than the grace after the period lets the owner claim the late days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session

from p2pmarket import money, text
from p2pmarket.clock import DAY, iso
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Order, OrderStatus
from p2pmarket.services.money.orders.rules import pay_out, record

REASON_MAX = 300


def rent(order) -> int:
    """What a rental's days cost (an order's whole amount when it is no rental)."""
    return order.amount - (order.deposit or 0)


def late_days(order, settings: Settings, at: int) -> int:
    """Whole days past the period's end when the thing is back at `at` (0 within the grace)."""
    if order.deposit is None or at <= order.slot_end + settings.late_return_grace:
        return 0
    return math.ceil((at - order.slot_end) / DAY)


def late_claim(order, settings: Settings) -> int:
    """What the owner may claim for late days: the rent per day for each, up to the deposit."""
    if order.returned_at is None:
        return 0
    return min(order.deposit, late_days(order, settings, order.returned_at) * order.unit_price)


@dataclass(frozen=True)
class Claim:
    amount: int | None = None  # None: the late days, when the return was late
    reason: str | None = None


def hand_over(session: Session, clock, settings: Settings, actor, order: Order, now: int, **_):
    record(session, order, actor.id, now, OrderStatus.handed_over, note="handed over to the renter")


def take_back(session: Session, clock, settings: Settings, actor, order: Order, now: int, **_):
    """The thing came back: the rent goes to the owner; the deposit waits out the claim
    window (or, with no deposit, the rental is over)."""
    rent_ = rent(order)
    order.returned_at = now
    late = late_days(order, settings, now)
    note = f"returned; rent {money.fmt(rent_)} released to the owner"
    if late:
        claimable = money.fmt(late_claim(order, settings))
        note += f"; {text.counted(late, 'day')} late: up to {claimable} claimable"
    if not order.deposit:
        to = OrderStatus.completed
    else:
        order.confirm_by, to = now + settings.claim_window, OrderStatus.returned
    pay_out(session, clock, order, "rent", rent_, actor.id, now, to, rent_, note, amount=rent_)


def claim_deposit(
    session: Session, clock, settings: Settings, actor, order: Order, now: int, claim: Claim, **_
):
    """The owner's one claim on the deposit, within the claim window, never above it."""
    if now >= order.confirm_by:
        raise Refused(
            "claim_window_closed",
            f"You can't claim on order #{order.id}: the claim window closed at "
            f"{iso(order.confirm_by)}; the deposit went back to the renter.",
        )
    late = late_claim(order, settings)
    amount, reason = claim.amount, claim.reason
    if amount is None:
        if not late:
            raise Invalid("claim_amount", "Give the amount you claim from the deposit.")
        amount = late
    if reason is None or not reason.strip():
        if amount > late:
            raise Invalid("claim_reason", "Say why you claim (--reason), e.g. 'scratched lens'.")
        days = late_days(order, settings, order.returned_at)
        reason = f"returned {text.counted(days, 'day')} late"
    reason = text.clean(reason, field="reason", max_len=REASON_MAX)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= order.deposit:
        raise Invalid(
            "claim_range",
            f"A claim is more than 0 and at most the deposit, {money.fmt(order.deposit)}.",
        )
    order.claim_amount, order.claim_reason = amount, reason
    order.confirm_by = now + settings.claim_answer_window
    note = f"claims {money.fmt(amount)} of the deposit: {reason}"
    record(session, order, actor.id, now, OrderStatus.claimed, amount, note)


def accept_claim(session: Session, clock, settings: Settings, actor, order: Order, now: int, **_):
    """The claim out of the deposit to the owner, the rest of it back to the renter."""
    claim = order.claim_amount
    note = (
        f"claim accepted: {money.fmt(claim)} to the owner, {money.fmt(order.deposit - claim)} back"
    )
    pay_out(
        session, clock, order, "claim", claim, actor.id, now, OrderStatus.completed, claim, note
    )


def deposit_state(order) -> str:
    """Where a rental's deposit is: held, claimed ¥X, returned or paid out (or '' if none)."""
    if not order.deposit:
        return ""
    status = OrderStatus(order.status)
    if status in (OrderStatus.requested, OrderStatus.accepted, OrderStatus.cancelled):
        return "not paid"
    if status == OrderStatus.claimed or (
        status == OrderStatus.disputed and order.claim_amount is not None
    ):
        return f"claimed {money.fmt(order.claim_amount)}"
    if status == OrderStatus.refunded or (
        status == OrderStatus.completed
        and order.claim_amount is None
        and order.returned_at is not None
    ):
        return "returned"
    if status == OrderStatus.completed:
        return "paid out"
    if status == OrderStatus.resolved:
        return "split by the mediator"
    return "held"
