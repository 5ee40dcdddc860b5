"""Orders that hold a slot of the seller's time, or the days of a rented thing: the claim
that keeps one seller's live slots (one item's rentals) apart, its release when the order
ends, what a buyer's late cancellation costs, and the reminders before the slot.

The claim is one `slot_claim` row per 5-minute block (availability.BLOCK) of the booked
time and its buffers, keyed by (seller, block): a second live order over any of those
blocks fails in the store itself, on SQLite and PostgreSQL alike, whatever its writer
read before. Checking first (availability.check_slot) only makes the refusal readable.
A rental claims one `rental_claim` row per (item, day) the same way (check_period first).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from p2pmarket import money
from p2pmarket.clock import HOUR, countdown
from p2pmarket.config import Settings
from p2pmarket.models import Order, RentalClaim, SlotClaim
from p2pmarket.services.market import availability

CLAIMS = SlotClaim.__table__
DAYS = RentalClaim.__table__
# Reminders before a slot, latest first: (how long before, what it is called).
REMINDERS = ((1 * HOUR, "1 h"), (24 * HOUR, "24 h"))


def claim(session: Session, order: Order, hours: availability.Hours) -> None:
    """Hold the seller's time for `order` (its slot and buffers), or refuse: taken."""
    span = availability.claim_span(hours, order.slot_start, order.slot_end)
    rows = [
        {"seller_id": order.seller_id, "block": b, "order_id": order.id}
        for b in availability.blocks(span)
    ]
    try:
        with session.begin_nested():
            session.connection().execute(insert(CLAIMS), rows)
    except IntegrityError as exc:
        when = availability.local(order.slot_start, hours.zone)
        raise availability.slot_taken(hours.listing_id, when) from exc


def claim_days(session: Session, order: Order, period: availability.Period) -> None:
    """Hold the item's days for a rental `order`, or refuse: some day is rented already."""
    rows = [
        {"listing_id": order.listing_id, "day": d, "order_id": order.id}
        for d in period.day_numbers()
    ]
    try:
        with session.begin_nested():
            session.connection().execute(insert(DAYS), rows)
    except IntegrityError as exc:
        last = period.back - timedelta(days=1)
        taken = availability.taken_days(session, order.listing_id, period.first, last)
        raise availability.period_taken(order.listing_id, min(taken, default=period.first)) from exc


def release(session: Session, order: Order) -> None:
    """The order ended (or its rented thing came back): its time or days are free again."""
    table = CLAIMS if order.deposit is None else DAYS
    session.connection().execute(delete(table).where(table.c.order_id == order.id))


def late_fee(slot_start: int, amount: int, now: int, settings: Settings) -> int:
    """What a buyer cancelling a paid booking now leaves to the seller (0: free)."""
    if now < slot_start - settings.free_cancel_before:
        return 0
    return amount * settings.late_cancel_percent // 100


def cancel_terms(slot_start: int, settings: Settings, now: int, deposit: int | None = None) -> str:
    """What cancelling a booked slot (or a rental, with its `deposit`) costs, said before
    paying for it: free until a moment, or, that moment past, a fee from now on."""
    free_end = slot_start - settings.free_cancel_before
    fee = f"{settings.late_cancel_percent}% of the {'price' if deposit is None else 'rent'}"
    to = "the seller" if deposit is None else "the owner"
    what = "This books a slot" if deposit is None else "This rents it"
    if now < free_end:
        free_until = availability.local(free_end, settings.zone)
        terms = f"{what}: cancelling is free until {free_until}; later {fee} goes to {to}."
    else:
        terms = (
            f"{what}, starting within {countdown(settings.free_cancel_before)}: cancelling "
            f"from now on costs {fee}, which goes to {to}."
        )
    if deposit is None:
        return terms
    return (
        f"{terms} The deposit {money.fmt(deposit)} comes back within "
        f"{countdown(settings.claim_window)} of the return unless the owner claims part of it."
    )


def reminder(slot_start: int | None, now: int) -> str | None:
    """The reminder due now before a slot ('24 h' or '1 h'), or None."""
    if slot_start is None or now >= slot_start:
        return None
    for before, name in REMINDERS:
        if now >= slot_start - before:
            return name
    return None
