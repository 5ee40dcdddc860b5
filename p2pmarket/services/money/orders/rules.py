"""The order's state machine: who may take which step from which status, the event each
step records in the order's chain, and the escrow payouts and stock moves steps share."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, case, literal, update
from sqlmodel import Session

from p2pmarket.clock import Clock
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Listing,
    ListingStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Role,
    User,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.money.orders import slots
from p2pmarket.services.records import chain
from p2pmarket.services.trust import credit


@dataclass(frozen=True)
class Rule:
    sources: frozenset[OrderStatus]
    actor: str  # buyer | seller | party (either) | mediator
    target: OrderStatus | None  # None: decided by the resolution
    rental: bool | None = None  # True: rentals only; False: never a rental; None: any order


TRANSITIONS: dict[str, Rule] = {
    "accept": Rule(frozenset({OrderStatus.requested}), "seller", OrderStatus.accepted),
    # Paid, only a booked slot's seller may cancel (steps._cancel): refunded in full.
    "cancel": Rule(
        frozenset({OrderStatus.requested, OrderStatus.accepted, OrderStatus.paid}),
        "party",
        OrderStatus.cancelled,
    ),
    "pay": Rule(frozenset({OrderStatus.accepted}), "buyer", OrderStatus.paid),
    "revoke": Rule(frozenset({OrderStatus.paid}), "buyer", OrderStatus.refunded),
    "deliver": Rule(frozenset({OrderStatus.paid}), "seller", OrderStatus.delivered, False),
    "confirm": Rule(frozenset({OrderStatus.delivered}), "buyer", OrderStatus.completed),
    "extend": Rule(frozenset({OrderStatus.delivered}), "buyer", OrderStatus.delivered),
    "dispute": Rule(
        frozenset(
            {OrderStatus.paid, OrderStatus.delivered, OrderStatus.handed_over, OrderStatus.claimed}
        ),
        "party",
        OrderStatus.disputed,
    ),
    "resolve": Rule(frozenset({OrderStatus.disputed}), "mediator", None),
    # Rentals (rentals.py): the owner hands the thing over and confirms it came back (the
    # rent is released); within the claim window the owner may claim part of the deposit,
    # which the renter accepts or disputes.
    "handover": Rule(frozenset({OrderStatus.paid}), "seller", OrderStatus.handed_over, True),
    "return": Rule(frozenset({OrderStatus.handed_over}), "seller", OrderStatus.returned, True),
    "claim": Rule(frozenset({OrderStatus.returned}), "seller", OrderStatus.claimed, True),
    "accept-claim": Rule(frozenset({OrderStatus.claimed}), "buyer", OrderStatus.completed, True),
}
RESOLUTIONS = ("release", "refund", "split")
# Orders whose money (all of it, or a returned rental's deposit) sits in their escrow.
HELD = frozenset(
    {
        OrderStatus.paid,
        OrderStatus.delivered,
        OrderStatus.disputed,
        OrderStatus.handed_over,
        OrderStatus.returned,
        OrderStatus.claimed,
    }
)
OPEN = HELD | {OrderStatus.requested, OrderStatus.accepted}
# Statuses after which the credit of both sides is recomputed.
CREDIT_MOVES = frozenset(
    {OrderStatus.delivered, OrderStatus.completed, OrderStatus.refunded, OrderStatus.resolved}
)

# Why a transition is refused, when the generic sentence would not help.
_WHY_NOT: dict[tuple[str, OrderStatus], str] = {
    ("pay", OrderStatus.requested): "the seller has not accepted it yet",
    ("pay", OrderStatus.paid): "it is already paid",
    ("pay", OrderStatus.delivered): "it is already paid and delivered",
    ("pay", OrderStatus.completed): "it is already paid and completed",
    (
        "revoke",
        OrderStatus.delivered,
    ): "it was delivered; revoking ends at delivery — open a dispute "
    "with `p2pmarket order dispute` instead",
    ("revoke", OrderStatus.accepted): "it is not paid yet; cancel it instead",
    ("deliver", OrderStatus.accepted): "the buyer has not paid yet",
    ("confirm", OrderStatus.paid): "the seller has not marked it delivered yet",
    ("cancel", OrderStatus.paid): "it is paid; the buyer may revoke it within the revoke window, "
    "or either side may open a dispute",
    ("handover", OrderStatus.accepted): "the renter has not paid yet",
    ("return", OrderStatus.paid): "it was not handed over yet",
    ("claim", OrderStatus.handed_over): "the thing is not back yet; confirm its return first",
    ("claim", OrderStatus.claimed): "the deposit was claimed already (one claim per rental)",
}


def record(
    session: Session,
    order: Order,
    actor_id: int | None,
    at: int,
    to: OrderStatus,
    amount: int = 0,
    note: str = "",
    payout: ledger.Postings | None = None,
) -> OrderEvent:
    """Move `order` to `to` and append its event; with `payout` (what `pay_out` queued),
    the transfer's entries and the event go in one append (their chains' heads read and
    moved once)."""
    event = OrderEvent(
        order_id=order.id,
        actor_id=actor_id,
        at=at,
        from_status=str(order.status or ""),
        to_status=str(to),
        amount=amount,
        note=note,
    )
    order.status = to
    order.updated_at = at
    session.add(order)
    if payout is None:
        chain.append(session, event)
    else:
        payout.flush([event])
    # A rented thing that came back frees its days, though the deposit still waits.
    if order.slot_start is not None and (to not in OPEN or to == OrderStatus.returned):
        slots.release(session, order)
    return event


def held(order: Order) -> int:
    """What the order's escrow holds: all it was paid, or once a rented thing came back
    (its rent released to the owner), the deposit alone."""
    return order.deposit if order.returned_at is not None else order.amount


def pay_out(
    session: Session,
    clock: Clock,
    order: Order,
    operation: str,
    to_seller: int,
    actor_id: int | None,
    at: int,
    to: OrderStatus,
    shown: int,
    note: str,
    amount: int | None = None,
) -> OrderEvent:
    """Pay out what the order's escrow holds (`held`, or `amount` of it): `to_seller` to
    the seller, the rest back to the buyer; and move the order to `to` as `record` does
    (its event by `actor_id` at `at`, showing `shown` and `note`). The transfer's entries
    and the event go in one append.

    The market's own key for `operation` makes it happen once per order, and no person
    can have taken that key before."""
    escrow = ledger.escrow(session, order.id)
    amount = held(order) if amount is None else amount
    to_buyer = amount - to_seller
    legs = [(escrow, -amount)]
    if to_seller:
        legs.append((ledger.wallet(session, order.seller_id), to_seller))
    if to_buyer:
        legs.append((ledger.wallet(session, order.buyer_id), to_buyer))
    kind = "release" if to_buyer == 0 else "refund" if to_seller == 0 else "split"
    key = ledger.market_key(order.id, operation)
    params = {"to_seller": to_seller, "to_buyer": to_buyer}
    payout = ledger.Postings(session, clock)
    if payout.replay(key, kind, order.id, params) is None:
        payout.add(key=key, kind=kind, legs=legs, order_id=order.id, params=params, at=at)
    if to_buyer == order.amount:
        restock(session, order)
    return record(session, order, actor_id, at, to, shown, note, payout)


# A listing's stock moves in one statement each way (paying takes it, a full refund puts
# it back), so the check and the change read the same row under the write lock.
LISTING = Listing.__table__


def _status(status: ListingStatus):
    return literal(status, LISTING.c.status.type)


TAKE = (
    update(LISTING)
    .where(
        LISTING.c.id == bindparam("listing_id"),
        LISTING.c.quantity >= bindparam("quantity"),
    )
    .values(
        quantity=LISTING.c.quantity - bindparam("quantity"),
        status=case(
            (LISTING.c.quantity == bindparam("quantity"), _status(ListingStatus.sold_out)),
            else_=LISTING.c.status,
        ),
    )
)
_RESTOCK = (
    update(LISTING)
    .where(LISTING.c.id == bindparam("listing_id"))
    .values(
        quantity=LISTING.c.quantity + bindparam("quantity"),
        status=case(
            (LISTING.c.status == ListingStatus.sold_out, _status(ListingStatus.active)),
            else_=LISTING.c.status,
        ),
    )
)


def restock(session: Session, order: Order) -> None:
    # A booked slot takes no stock: its seller's time is held by its claim instead.
    if order.listing_id is None or order.status not in HELD or order.slot_start is not None:
        return
    session.connection().execute(
        _RESTOCK, {"listing_id": order.listing_id, "quantity": order.quantity}
    )


def order_row(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise no_order(order_id)
    return order


def no_order(order_id: int) -> Invalid:
    return Invalid("unknown_order", f"No order #{order_id}.")


def check_actor(order: Order, rule: Rule, actor: User, action: str) -> None:
    allowed = {
        "buyer": actor.id == order.buyer_id,
        "seller": actor.id == order.seller_id,
        "party": actor.id in (order.buyer_id, order.seller_id),
        "mediator": actor.role == Role.mediator
        and actor.id not in (order.buyer_id, order.seller_id),
    }[rule.actor]
    if not allowed:
        who = {"party": "the buyer or the seller", "mediator": "a mediator who is not a party"}
        raise Refused(
            "not_your_order",
            f"Only {who.get(rule.actor, 'the ' + rule.actor)} of order #{order.id} may "
            f"{action} it.",
        )


def check_source(order: Order, rule: Rule, action: str) -> None:
    rental = order.deposit is not None
    if rule.rental is not None and rule.rental != rental:
        why = (
            "it is a rental: the owner hands it over (handover) and confirms its return"
            if rental
            else "it is not a rental"
        )
        raise Refused(f"cannot_{action}", f"You can't {action} order #{order.id}: {why}.")
    if order.status not in rule.sources:
        raise refuse(order, rule, action)


def refuse(order: Order, rule: Rule, action: str) -> Refused:
    """Why `action` can't be taken on `order` in its status."""
    why = _WHY_NOT.get((action, order.status))
    if why is None:
        allowed = " or ".join(sorted(rule.sources))
        why = f"it is {order.status}; {action} needs it to be {allowed}"
    return Refused(f"cannot_{action}", f"You can't {action} order #{order.id}: {why}.")


def settle_credit(session: Session, clock: Clock, settings: Settings, order: Order) -> None:
    """An order that ended (or was delivered) changes both sides' transaction credit."""
    if order.status in CREDIT_MOVES:
        session.flush()
        for user_id in (order.buyer_id, order.seller_id):
            credit.recompute(session, clock, user_id, settings)
