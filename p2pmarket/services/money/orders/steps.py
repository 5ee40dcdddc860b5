"""Opening an order (from a listing, or a seller's payment request in chat) and every step
after it: `act` checks the actor and the status against TRANSITIONS, then runs the
step's handler, which records the event and moves the escrow."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from p2pmarket import money, text
from p2pmarket.clock import Clock, countdown, iso
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Kind,
    Listing,
    ListingHours,
    ListingStatus,
    Order,
    OrderEvent,
    OrderStatus,
    User,
)
from p2pmarket.services.market import availability
from p2pmarket.services.money.orders import disputes, rentals, slots
from p2pmarket.services.money.orders.payments import pay
from p2pmarket.services.money.orders.rules import (
    TRANSITIONS,
    check_actor,
    check_source,
    held,
    order_row,
    pay_out,
    record,
    refuse,
    settle_credit,
)
from p2pmarket.services.money.orders.views import OrderView, view
from p2pmarket.services.records import chain
from p2pmarket.services.trust import contacts


def create_order(
    session: Session, clock: Clock, buyer: User, listing_id: int, quantity: int = 1
) -> OrderView:
    listing = _orderable(session, buyer, listing_id)
    if availability.rentable(listing):
        raise Refused(
            "needs_period",
            f"Listing #{listing_id} is rented by the day: pick the days "
            f"(order create {listing_id} --from 2026-12-05 --to 2026-12-07).",
        )
    if session.get(ListingHours, listing_id) is not None:
        raise Refused(
            "needs_slot",
            f"Listing #{listing_id} is booked by time: pick a slot "
            f"(p2pmarket listing slots {listing_id}, then order create {listing_id} --at …).",
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise Invalid("quantity_range", "Quantity must be a whole number of at least 1.")
    if quantity > listing.quantity:
        raise Refused(
            "not_enough_quantity",
            f"Listing #{listing_id} has {listing.quantity} left; you asked for {quantity}.",
        )
    order = _requested(clock, listing, buyer, quantity)
    return _open(session, order, buyer.id, f"{quantity} × {money.fmt(listing.price)}")


def book_slot(
    session: Session,
    clock: Clock,
    settings: Settings,
    buyer: User,
    listing_id: int,
    start: int,
    count: int = 1,
    *,
    plan_id: int | None = None,
) -> OrderView:
    """Ask for `count` consecutive slots of a listing from `start`: a requested order that
    holds the seller's time (and its buffers) until it ends.

    A leg of a plan (`plan_id`) is prepaid with the plan's other legs at once: it opens
    accepted, the seller's published free hours being their acceptance.
    """
    listing = _orderable(session, buyer, listing_id)
    hours, slot = availability.check_slot(session, clock, settings.zone, listing_id, start, count)
    order = _requested(clock, listing, buyer, count, slot_start=slot.start, slot_end=slot.end)
    if plan_id is not None:
        order.status = OrderStatus.accepted
    when = availability.local(slot.start, settings.zone)
    note = f"{count} × {money.fmt(listing.price)}, slot {when}"
    if plan_id is not None:
        note += f", leg of plan #{plan_id} (within the seller's free hours)"
    booked = _open(session, order, buyer.id, note)
    slots.claim(session, order, hours)
    return booked


def rent_item(
    session: Session,
    clock: Clock,
    settings: Settings,
    renter: User,
    listing_id: int,
    first: date,
    back: date,
) -> OrderView:
    """Ask to rent a listing of goods by the day from `first` until `back` (the return
    day): a requested order for the rent of every day plus the deposit, holding the days."""
    listing = _orderable(session, renter, listing_id)
    period = availability.check_period(session, clock, settings.zone, listing, first, back)
    deposit = listing.deposit or 0
    order = _requested(
        clock,
        listing,
        renter,
        period.days,
        slot_start=period.start,
        slot_end=period.end,
        deposit=deposit,
    )
    note = (
        f"rent {period.first.isoformat()} to {period.back.isoformat()}: {period.days} × "
        f"{money.fmt(listing.price)} + deposit {money.fmt(deposit)}"
    )
    rented = _open(session, order, renter.id, note)
    slots.claim_days(session, order, period)
    return rented


def _requested(clock: Clock, listing: Listing, buyer: User, quantity: int, **held) -> Order:
    """A new order asking for `quantity` of a listing at its price (plus a rental's
    deposit); `held`: the slot or period it holds, and a rental's deposit."""
    now = clock.now()
    return Order(
        listing_id=listing.id,
        title=listing.title,
        buyer_id=buyer.id,
        seller_id=listing.seller_id,
        kind=listing.kind,
        quantity=quantity,
        unit_price=listing.price,
        amount=money.check(listing.price * quantity + held.get("deposit", 0)),
        status=OrderStatus.requested,
        created_at=now,
        updated_at=now,
        **held,
    )


def _orderable(session: Session, buyer: User, listing_id: int) -> Listing:
    """The listing `buyer` may order from, or why not."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if listing.seller_id == buyer.id:
        raise Refused("own_listing", "You can't order from your own listing.")
    if listing.status != ListingStatus.active:
        raise Refused(
            "listing_inactive",
            f"Listing #{listing_id} is {listing.status}; it can be ordered only while active.",
        )
    if contacts.blocked_between(session, buyer.id, listing.seller_id):
        raise Refused("blocked", "You can't order from this seller: one of you blocked the other.")
    return listing


def _open(session: Session, order: Order, actor_id: int, note: str) -> OrderView:
    """Store a new order and its first event (from nothing to its opening status)."""
    session.add(order)
    session.flush()
    chain.append(
        session,
        OrderEvent(
            order_id=order.id,
            actor_id=actor_id,
            at=order.created_at,
            from_status="",
            to_status=str(order.status),
            amount=order.amount,
            note=note,
        ),
    )
    return view(session, order)


def request_payment(
    session: Session,
    clock: Clock,
    seller: User,
    buyer: User,
    amount: int,
    listing_id: int | None = None,
    note: str = "",
) -> OrderView:
    """A seller asks a buyer for money (from chat in trade mode): an accepted order to pay."""
    money.check(amount)
    if seller.id == buyer.id:
        raise Refused("own_request", "You can't request money from yourself.")
    title = text.clean(note or "Payment request", field="note", max_len=text.TITLE_MAX)
    kind = Kind.skill
    if listing_id is not None:
        listing = session.get(Listing, listing_id)
        if listing is None:
            raise Invalid("unknown_listing", f"No listing #{listing_id}.")
        if listing.seller_id != seller.id:
            raise Refused("not_your_listing", f"Listing #{listing_id} belongs to another seller.")
        title, kind = listing.title, listing.kind
    now = clock.now()
    order = Order(
        listing_id=listing_id,
        title=title,
        buyer_id=buyer.id,
        seller_id=seller.id,
        kind=kind,
        quantity=1,
        unit_price=amount,
        amount=amount,
        status=OrderStatus.accepted,
        via_chat=True,
        created_at=now,
        updated_at=now,
    )
    return _open(session, order, seller.id, "payment request")


def from_offer(
    session: Session,
    clock: Clock,
    listing: Listing,
    buyer_id: int,
    quantity: int,
    unit_price: int,
    *,
    actor_id: int,
    offer_id: int,
) -> OrderView:
    """The order an accepted offer becomes: at the offer's price and quantity, already
    accepted by the seller, paid through the chat's money lock like a payment request."""
    now = clock.now()
    order = Order(
        listing_id=listing.id,
        title=listing.title,
        buyer_id=buyer_id,
        seller_id=listing.seller_id,
        kind=listing.kind,
        quantity=quantity,
        unit_price=unit_price,
        amount=money.check(unit_price * quantity),
        status=OrderStatus.accepted,
        via_chat=True,
        created_at=now,
        updated_at=now,
    )
    note = f"offer #{offer_id} accepted: {quantity} × {money.fmt(unit_price)}"
    return _open(session, order, actor_id, note)


def act(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    order_id: int,
    action: str,
    *,
    key: str | None = None,
    resolution: str | None = None,
    split: int | None = None,
    claim: rentals.Claim | None = None,
    opening: disputes.Opening | None = None,
) -> OrderView:
    """Apply one transition from TRANSITIONS as `actor`."""
    if action not in TRANSITIONS:
        raise Invalid("unknown_action", f"Unknown order action {action!r}.")
    if action == "pay":
        return pay(session, clock, settings, actor, order_id, key)
    order = order_row(session, order_id)
    rule = TRANSITIONS[action]
    now = clock.now()
    check_actor(order, rule, actor, action)
    check_source(order, rule, action)
    handler = _HANDLERS[action]
    loaded = handler(
        session,
        clock,
        settings,
        actor,
        order,
        now,
        key=key,
        resolution=resolution,
        split=split,
        claim=claim or rentals.Claim(),
        opening=opening,
    )
    settle_credit(session, clock, settings, order)
    return view(session, order, users=(actor, *(loaded or ())))


def _accept(session, clock, settings, actor, order, now, **_):
    record(session, order, actor.id, now, OrderStatus.accepted)


def _cancel(session, clock, settings, actor, order, now, **_):
    if order.status == OrderStatus.paid:
        if order.slot_start is None or actor.id != order.seller_id:
            raise refuse(order, TRANSITIONS["cancel"], "cancel")
        # The seller calls off a booked slot: the buyer gets everything back, and the
        # refund counts against the seller's transaction credit like a missed delivery.
        note = "cancelled by seller"
        refunded = OrderStatus.refunded
        pay_out(
            session, clock, order, "seller-cancel", 0, actor.id, now, refunded, order.amount, note
        )
        return
    record(session, order, actor.id, now, OrderStatus.cancelled)


def _revoke(session, clock, settings, actor, order, now, **_):
    if order.slot_start is not None:
        _cancel_booking(session, clock, settings, actor, order, now)
        return
    if now >= order.revoke_until:
        raise Refused(
            "revoke_window_closed",
            f"You can't revoke order #{order.id}: the revoke window closed at "
            f"{iso(order.revoke_until)}; open a dispute instead.",
        )
    note = "revoked by buyer"
    pay_out(
        session, clock, order, "revoke", 0, actor.id, now, OrderStatus.refunded, order.amount, note
    )


def _cancel_booking(session, clock, settings, actor, order, now):
    """The buyer cancels a paid booking: free until a day before the slot, then a share
    of the price goes to the seller; once the slot began, only a dispute is left."""
    if now >= order.slot_start:
        raise Refused(
            "slot_started",
            f"You can't cancel order #{order.id}: its slot began at "
            f"{availability.local(order.slot_start, settings.zone)}; open a dispute instead.",
        )
    fee = slots.late_fee(order.slot_start, rentals.rent(order), now, settings)
    note = "cancelled by buyer" + (
        f" within {countdown(settings.free_cancel_before)} of the slot: "
        f"{money.fmt(fee)} to the seller"
        if fee
        else ""
    )
    pay_out(
        session,
        clock,
        order,
        "revoke",
        fee,
        actor.id,
        now,
        OrderStatus.refunded,
        order.amount - fee,
        note,
    )


def _deliver(session, clock, settings, actor, order, now, **_):
    window = (
        settings.confirm_window_goods
        if order.kind == Kind.goods
        else settings.confirm_window_service
    )
    # A booked slot's confirm window starts when the slot ends, not before.
    order.confirm_by = max(now, order.slot_end or now) + window
    order.revoke_until = None
    record(session, order, actor.id, now, OrderStatus.delivered)


def _confirm(session, clock, settings, actor, order, now, **_):
    amount, note = order.amount, "released to seller"
    pay_out(
        session, clock, order, "release", amount, actor.id, now, OrderStatus.completed, amount, note
    )


def _extend(session, clock, settings, actor, order, now, **_):
    if order.extended:
        raise Refused(
            "already_extended",
            f"The confirm window of order #{order.id} was already extended once.",
        )
    order.extended = True
    order.confirm_by += settings.confirm_extension
    record(
        session,
        order,
        actor.id,
        now,
        OrderStatus.delivered,
        note=f"confirm window extended by {countdown(settings.confirm_extension)}",
    )


def _dispute(session, clock, settings, actor, order, now, opening, **_):
    disputes.open_case(session, settings, actor, order, now, opening)


def parse_resolution(resolution: str, amount: str | None = None) -> tuple[str, int | None]:
    """A mediator's decision as typed in either face — release, refund, or split AMOUNT (the
    seller's share in yuan) — as `act`'s resolution and split; `_resolve` judges them."""
    if resolution == "split" and amount is None:
        raise Invalid("split_amount", "split needs the seller's share, e.g. `split 40`.")
    return resolution, money.parse(amount) if amount is not None else None


def _resolve(session, clock, settings, actor, order, now, resolution, split, **_):
    decided = disputes.shares(held(order), resolution, split)
    to_seller = decided.to_seller
    target = {
        "release": OrderStatus.completed,
        "refund": OrderStatus.refunded,
        "split": OrderStatus.resolved,
    }[resolution]
    order.paused_at = None
    note = (
        f"mediator: {resolution} ({money.fmt(to_seller)} to seller, "
        f"{money.fmt(decided.to_buyer)} to buyer)"
    )
    pay_out(session, clock, order, "resolve", to_seller, actor.id, now, target, to_seller, note)


# Each handler applies one action; one may return the users it loaded (for the view).
_HANDLERS = {
    "accept": _accept,
    "cancel": _cancel,
    "revoke": _revoke,
    "deliver": _deliver,
    "confirm": _confirm,
    "extend": _extend,
    "dispute": _dispute,
    "resolve": _resolve,
    "handover": rentals.hand_over,
    "return": rentals.take_back,
    "claim": rentals.claim_deposit,
    "accept-claim": rentals.accept_claim,
}
