"""Offers: haggling over a listing in a conversation's trade mode.

A buyer offers a price per unit and a quantity (and a note). The other side accepts,
declines or counters; a counter is a new offer the first side answers in turn, and the
one who made an offer may withdraw it while it is open. An offer stays open
`offer_window` (48 h); the market's tick expires it then (recorded at that moment, as
the order timers are). An accepted offer becomes an order at its price and quantity,
already accepted by the seller, which the buyer pays with the usual second confirmation.

Offers pass the chat's money lock as payment requests do: both sides reachable (no
block), trade mode, the gate's eligibility and tier limits, checked for the offer's
amount when it is made, countered and accepted. A buyer has at most
`offers_open_per_listing` open offers on one listing. A seller may mark a listing
"price firm" (no offers) or set a floor: offers below it are declined automatically.

Every offer and every step is a chat line (a chained record); the offer rows themselves,
which hold where each one stands, are not chained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from p2pmarket import money, text
from p2pmarket.clock import HOUR, Clock, iso
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    InboxKind,
    Listing,
    ListingHours,
    ListingStatus,
    MessageKind,
    Offer,
    OfferStatus,
    User,
)
from p2pmarket.services.money import orders
from p2pmarket.services.trust import chat, contacts, gate, inbox

NOTE_MAX = 200
STEPS = ("accept", "decline", "counter", "withdraw")


@dataclass(frozen=True)
class Step:
    actor: str  # to: the side the offer was made to | by: the side that made it
    target: OfferStatus


# The offer's state machine: every step needs an open offer (an expired one is open
# until the tick marks it, and refused from its deadline on).
TRANSITIONS: dict[str, Step] = {
    "accept": Step("to", OfferStatus.accepted),
    "decline": Step("to", OfferStatus.declined),
    "counter": Step("to", OfferStatus.countered),
    "withdraw": Step("by", OfferStatus.withdrawn),
}


@dataclass(frozen=True)
class OfferView:
    id: int
    listing_id: int
    title: str
    buyer: str
    seller: str
    by: str
    to: str
    unit_price: int
    quantity: int
    amount: int
    note: str
    status: str
    parent_id: int | None
    order_id: int | None
    created_at: int
    expires_at: int
    decided_at: int | None
    # Declined under the seller's floor, or expired: nobody decided.
    automatic: bool
    # Near the money lock's limit (shown when it is made or accepted).
    warning: str | None = None

    def actions(self, handle: str) -> list[str]:
        """What `handle` may do with it now."""
        if self.status != OfferStatus.open:
            return []
        side = "to" if handle == self.to else "by" if handle == self.by else None
        return [name for name, step in TRANSITIONS.items() if step.actor == side]

    def state(self, now: int) -> str:
        """Where it stands, in words, as its line in the chat says it."""
        line = chat.OfferState(
            self.id,
            self.status,
            self.unit_price,
            self.quantity,
            self.expires_at,
            self.order_id,
            self.automatic,
        )
        return line.state(now)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OfferPolicy:
    """What a seller set for offers on one listing (`floor` known only to them: `yours`)."""

    listing_id: int
    price: int
    floor: int | None
    firm: bool
    yours: bool

    def to_json(self) -> dict:
        return asdict(self)


def _handles(session: Session, ids: set[int]) -> dict[int, str]:
    return dict(session.exec(select(User.id, User.handle).where(col(User.id).in_(ids))).all())


def _titles(session: Session, ids: set[int]) -> dict[int, str]:
    query = select(Listing.id, Listing.title).where(col(Listing.id).in_(ids))
    return dict(session.exec(query).all())


def _view(
    session: Session,
    offer: Offer,
    warning: str | None = None,
    *,
    handles: dict[int, str] | None = None,
    titles: dict[int, str] | None = None,
) -> OfferView:
    """`handles` and `titles`: read once for a list of offers (else read for this one)."""
    handles = handles or _handles(session, {offer.buyer_id, offer.seller_id})
    titles = titles or _titles(session, {offer.listing_id})
    to_id = offer.seller_id if offer.by_id == offer.buyer_id else offer.buyer_id
    return OfferView(
        id=offer.id,
        listing_id=offer.listing_id,
        title=titles[offer.listing_id],
        buyer=handles[offer.buyer_id],
        seller=handles[offer.seller_id],
        by=handles[offer.by_id],
        to=handles[to_id],
        unit_price=offer.unit_price,
        quantity=offer.quantity,
        amount=offer.amount,
        note=offer.note,
        status=str(offer.status),
        parent_id=offer.parent_id,
        order_id=offer.order_id,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        decided_at=offer.decided_at,
        automatic=offer.decided_at is not None and offer.decided_by is None,
        warning=warning,
    )


def _offer_row(session: Session, viewer: User, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or viewer.id not in (offer.buyer_id, offer.seller_id):
        raise Invalid("unknown_offer", f"No offer #{offer_id} made to you or by you.")
    return offer


def _listing_for_offers(session: Session, listing_id: int, buyer: User) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if listing.seller_id == buyer.id:
        raise Refused("own_listing", "You can't make an offer on your own listing.")
    if listing.status != ListingStatus.active:
        raise Refused(
            "listing_inactive",
            f"Listing #{listing_id} is {listing.status}; offers are made only while it is active.",
        )
    return listing


def _check_quantity(listing: Listing, quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise Invalid("quantity_range", "Quantity must be a whole number of at least 1.")
    if quantity > listing.quantity:
        raise Refused(
            "not_enough_quantity",
            f"Listing #{listing.id} has {listing.quantity} left; the offer is for {quantity}.",
        )


def _check_open_count(session: Session, listing: Listing, buyer: User, settings: Settings) -> None:
    most = settings.offers_open_per_listing
    count = session.exec(
        select(func.count())
        .select_from(Offer)
        .where(
            Offer.listing_id == listing.id,
            Offer.buyer_id == buyer.id,
            Offer.by_id == buyer.id,
            Offer.status == OfferStatus.open,
        )
    ).one()
    if count >= most:
        raise Refused(
            "too_many_offers",
            f"You have {count} open offers on listing #{listing.id}, the most at once; "
            "withdraw one (`p2pmarket offer withdraw ID`) or wait for an answer.",
        )


def _propose(
    session: Session,
    clock: Clock,
    settings: Settings,
    listing: Listing,
    by: User,
    to: User,
    unit_price: int,
    quantity: int,
    note: str,
    parent: Offer | None = None,
) -> OfferView:
    """Every check an offer (or a counter) passes, then the row and its line in the chat."""
    buyer, seller = (to, by) if by.id == listing.seller_id else (by, to)
    unit_price = money.check(unit_price)
    _check_quantity(listing, quantity)
    amount = money.check(unit_price * quantity)
    note = text.clean(note, field="note", max_len=NOTE_MAX, required=False)
    chat.check_reach(session, by, to)
    if session.get(ListingHours, listing.id) is not None:
        raise Refused(
            "offer_booked_listing",
            f"Listing #{listing.id} is booked by the slot, at its price: pick a free slot "
            f"with `p2pmarket listing slots {listing.id}`.",
        )
    if by.id == buyer.id:
        if listing.price_firm:
            raise Refused(
                "price_firm",
                f"Listing #{listing.id} is price firm: the seller takes no offers. Order it at "
                f"{money.fmt(listing.price)} with `p2pmarket order create {listing.id}`.",
            )
        _check_open_count(session, listing, buyer, settings)
    verdict = gate.check_money(
        session, clock, buyer, seller, amount, settings=settings, actor=by, require_trade_mode=True
    )
    now = clock.now()
    offer = Offer(
        listing_id=listing.id,
        buyer_id=buyer.id,
        seller_id=seller.id,
        by_id=by.id,
        unit_price=unit_price,
        quantity=quantity,
        amount=amount,
        note=note,
        parent_id=parent.id if parent else None,
        created_at=now,
        expires_at=now + settings.offer_window,
    )
    below_floor = listing.offer_floor is not None and unit_price < listing.offer_floor
    if by.id == buyer.id and below_floor:
        offer.status, offer.decided_at = OfferStatus.declined, now
    session.add(offer)
    session.flush()
    verb = f"counters offer #{parent.id} with" if parent else "offers"
    line = (
        f"{by.handle} {verb} {money.fmt(unit_price)} × {quantity} = {money.fmt(amount)} for "
        f"listing #{listing.id} {listing.title} (offer #{offer.id})."
    )
    if note:
        line += f" Note: {note}"
    message = chat.post(session, clock, by, to, line, kind=MessageKind.offer)
    offer.message_id = message.id
    session.add(offer)
    return _view(session, offer, verdict.warning)


def make_offer(
    session: Session,
    clock: Clock,
    settings: Settings,
    buyer: User,
    listing_id: int,
    unit_price: int,
    quantity: int = 1,
    note: str = "",
) -> OfferView:
    """A buyer offers `unit_price` (minor units) for `quantity` of a listing."""
    listing = _listing_for_offers(session, listing_id, buyer)
    seller = session.get(User, listing.seller_id)
    return _propose(session, clock, settings, listing, buyer, seller, unit_price, quantity, note)


def respond(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    offer_id: int,
    step: str,
    *,
    unit_price: int | None = None,
    quantity: int | None = None,
    note: str = "",
) -> OfferView:
    """One step of TRANSITIONS on an open offer; a counter returns the new offer."""
    if step not in TRANSITIONS:
        raise Invalid("unknown_step", f"Unknown offer step {step[:20]!r}: {', '.join(STEPS)}.")
    offer = _offer_row(session, actor, offer_id)
    rule = TRANSITIONS[step]
    to_id = offer.seller_id if offer.by_id == offer.buyer_id else offer.buyer_id
    if actor.id != (to_id if rule.actor == "to" else offer.by_id):
        who = "the one it was made to" if rule.actor == "to" else "the one who made it"
        raise Refused("not_your_turn", f"Only {who} may {step} offer #{offer.id}.")
    now = clock.now()
    if offer.status != OfferStatus.open:
        raise Refused("offer_closed", f"You can't {step} offer #{offer.id}: it is {offer.status}.")
    if now >= offer.expires_at:
        raise Refused(
            "offer_expired",
            f"You can't {step} offer #{offer.id}: it expired at {iso(offer.expires_at)}. "
            "Make a new offer instead.",
        )
    other = session.get(User, offer.buyer_id if actor.id == offer.seller_id else offer.seller_id)
    listing = session.get(Listing, offer.listing_id)
    if step == "counter":
        if unit_price is None:
            raise Invalid("counter_price", "A counter needs a price, e.g. `offer counter 3 80`.")
        if listing.status != ListingStatus.active:
            raise Refused(
                "listing_inactive", f"Listing #{listing.id} is {listing.status}; no counters."
            )
        counter = _propose(
            session,
            clock,
            settings,
            listing,
            actor,
            other,
            unit_price,
            offer.quantity if quantity is None else quantity,
            note,
            parent=offer,
        )
        _close(session, offer, OfferStatus.countered, actor, now)
        return counter
    warning = None
    if step == "accept":
        warning = _accept(session, clock, settings, actor, other, offer, listing)
    else:
        # Declining or withdrawing is always allowed; a block only keeps its line away.
        if not contacts.blocked_between(session, actor.id, other.id):
            verb = "withdrew" if step == "withdraw" else "declined"
            line = f"{actor.handle} {verb} offer #{offer.id}."
            chat.post(session, clock, actor, other, line, kind=MessageKind.offer)
    _close(session, offer, rule.target, actor, now)
    return _view(session, offer, warning)


def _accept(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    other: User,
    offer: Offer,
    listing: Listing,
) -> str | None:
    """The order the offer becomes, under the same rules as making it; the gate's warning."""
    if listing.status != ListingStatus.active:
        raise Refused(
            "listing_inactive",
            f"Listing #{listing.id} is {listing.status}; its offers can't be accepted now.",
        )
    _check_quantity(listing, offer.quantity)
    chat.check_reach(session, actor, other)
    buyer, seller = (actor, other) if actor.id == offer.buyer_id else (other, actor)
    verdict = gate.check_money(
        session,
        clock,
        buyer,
        seller,
        offer.amount,
        settings=settings,
        actor=actor,
        require_trade_mode=True,
    )
    order = orders.from_offer(
        session,
        clock,
        listing,
        buyer.id,
        offer.quantity,
        offer.unit_price,
        actor_id=actor.id,
        offer_id=offer.id,
    )
    offer.order_id = order.id
    line = (
        f"{actor.handle} accepted offer #{offer.id}: order #{order.id}, "
        f"{offer.quantity} × {money.fmt(offer.unit_price)} = {money.fmt(offer.amount)}. "
        f"Pay with `p2pmarket order pay {order.id} --as {buyer.handle}`."
    )
    chat.post(session, clock, actor, other, line, kind=MessageKind.offer, order_id=order.id)
    return verdict.warning


def _close(session: Session, offer: Offer, status: OfferStatus, actor: User, now: int) -> None:
    offer.status, offer.decided_at, offer.decided_by = status, now, actor.id
    session.add(offer)


def _due(now: int):
    return select(Offer).where(Offer.status == OfferStatus.open, col(Offer.expires_at) <= now)


def anything_due(session: Session, clock: Clock) -> bool:
    """A cheap read: has an open offer run out (does `expire` have work)?"""
    return session.exec(_due(clock.now()).limit(1)).first() is not None


def expire(session: Session, clock: Clock) -> list[int]:
    """Mark the open offers whose window ended expired, at their deadline, and tell both
    sides in their inbox; their ids."""
    due = session.exec(_due(clock.now()).order_by(col(Offer.id))).all()
    handles = _handles(session, {o.by_id for o in due})
    titles = _titles(session, {o.listing_id for o in due})
    for offer in due:
        offer.status, offer.decided_at = OfferStatus.expired, offer.expires_at
        session.add(offer)
        _tell_expired(session, offer, handles[offer.by_id], titles[offer.listing_id])
    return [o.id for o in due]


def _tell_expired(session: Session, offer: Offer, by: str, title: str) -> None:
    """An expired offer is an item for both sides: the one who made it and the one who let
    it run out (nobody's chat says so, the tick did it)."""
    to_id = offer.seller_id if offer.by_id == offer.buyer_id else offer.buyer_id
    terms = f"{money.fmt(offer.unit_price)} × {offer.quantity}"
    hours = (offer.expires_at - offer.created_at) // HOUR
    what = f"offer #{offer.id} on listing #{offer.listing_id} {text.strip_controls(title)[:60]}"
    told = {
        offer.by_id: f"Your {what} ({terms}) expired unanswered: make a new one if you wish.",
        to_id: f"@{by}'s {what} ({terms}) expired: you did not answer within {hours} h.",
    }
    ref, key = ("offer", offer.id), f"expired:{offer.id}"
    for user_id, line in told.items():
        inbox.add(session, user_id, InboxKind.offer, line, ref, offer.expires_at, key)


def get_offer(session: Session, viewer: User, offer_id: int) -> OfferView:
    return _view(session, _offer_row(session, viewer, offer_id))


def list_offers(
    session: Session,
    viewer: User,
    *,
    open_only: bool = False,
    listing_id: int | None = None,
    limit: int = 100,
) -> list[OfferView]:
    """Offers I made or was made, on my listings or others', newest first."""
    query = select(Offer).where(or_(Offer.buyer_id == viewer.id, Offer.seller_id == viewer.id))
    if open_only:
        query = query.where(Offer.status == OfferStatus.open)
    if listing_id is not None:
        query = query.where(Offer.listing_id == listing_id)
    rows = session.exec(query.order_by(col(Offer.id).desc()).limit(limit)).all()
    handles = _handles(session, {o.buyer_id for o in rows} | {o.seller_id for o in rows})
    titles = _titles(session, {o.listing_id for o in rows})
    return [_view(session, o, handles=handles, titles=titles) for o in rows]


def set_policy(
    session: Session,
    clock: Clock,
    seller: User,
    listing_id: int,
    *,
    floor: int | None = None,
    clear_floor: bool = False,
    firm: bool | None = None,
) -> OfferPolicy:
    """The seller's rules for offers on a listing: a floor (or none), price firm or not.
    What is not given stays as it was."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if listing.seller_id != seller.id:
        raise Refused("not_your_listing", f"Listing #{listing_id} belongs to another seller.")
    if floor is not None and clear_floor:
        raise Invalid("floor_both", "Set a floor or clear it, not both.")
    if floor is not None:
        listing.offer_floor = money.check(floor)
    if clear_floor:
        listing.offer_floor = None
    if firm is not None:
        listing.price_firm = firm
    listing.updated_at = clock.now()
    session.add(listing)
    return policy(session, seller, listing_id)


def policy(session: Session, viewer: User, listing_id: int) -> OfferPolicy:
    """A listing's offer rules; the floor only for its seller (buyers never learn it)."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    yours = listing.seller_id == viewer.id
    floor = listing.offer_floor if yours else None
    return OfferPolicy(listing.id, listing.price, floor, listing.price_firm, yours)
