"""What the faces see of orders: an order with its countdowns and timeline, a payment's
preview, a person's orders, and one order only its parties (or its mediator) may read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, col, select

from p2pmarket.clock import countdown
from p2pmarket.errors import Refused
from p2pmarket.models import (
    Order,
    OrderEvent,
    OrderStatus,
    Role,
    User,
)
from p2pmarket.services.money.orders.handover import HandoverView, handover_of
from p2pmarket.services.money.orders.rules import OPEN, TRANSITIONS, order_row

# The countdown to a booked slot: shown with an order's timers, though nothing runs out
# (Home announces it by its reminders instead of among the deadlines).
SLOT_STARTS = "slot starts"
RENTAL_STARTS = "rental starts"
STARTS = (SLOT_STARTS, RENTAL_STARTS)


@dataclass(frozen=True)
class EventView:
    id: int
    at: int
    actor: str | None
    from_status: str
    to_status: str
    amount: int
    note: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OrderView:
    id: int
    listing_id: int | None
    title: str
    buyer: str
    seller: str
    kind: str
    quantity: int
    unit_price: int
    amount: int
    status: str
    created_at: int
    updated_at: int
    revoke_until: int | None
    deliver_by: int | None
    confirm_by: int | None
    extended: bool
    paused: bool
    timer_failed_at: int | None = None
    replayed: bool = False
    timeline: list[EventView] = field(default_factory=list)
    # A booked slot of the seller's time, or a rental's period (UTC seconds), or None.
    slot_start: int | None = None
    slot_end: int | None = None
    # A rental's deposit (None: no rental), its return and the owner's claim.
    deposit: int | None = None
    returned_at: int | None = None
    claim_amount: int | None = None
    claim_reason: str | None = None
    # Goods: how it changes hands, as proposed or agreed (None: not yet, or not goods).
    handover: HandoverView | None = None

    def countdowns(self, now: int) -> dict[str, str]:
        """Human countdowns for the timers that are running now."""
        if self.paused:
            return {"timers": "paused by a dispute"}
        if self.timer_failed_at is not None:
            return {"timers": "stopped: a timer failed (the timeline says why)"}
        shown = {}
        rental = self.deposit is not None
        if self.slot_start is not None and self.status in OPEN and now < self.slot_start:
            shown[RENTAL_STARTS if rental else SLOT_STARTS] = countdown(self.slot_start - now)
        if self.status == OrderStatus.paid and self.revoke_until and now < self.revoke_until:
            shown["revoke window"] = countdown(self.revoke_until - now)
        if self.status == OrderStatus.paid and self.deliver_by:
            deadline = "handover deadline" if rental else "delivery deadline"
            shown[deadline] = countdown(self.deliver_by - now)
        if self.status == OrderStatus.delivered and self.confirm_by:
            shown["auto-confirm"] = countdown(self.confirm_by - now)
        if self.status == OrderStatus.handed_over and self.slot_end:
            key = "due back" if now < self.slot_end else "overdue by"
            shown[key] = countdown(abs(self.slot_end - now))
        if self.status == OrderStatus.returned and self.confirm_by:
            shown["deposit back"] = countdown(self.confirm_by - now)
        if self.status == OrderStatus.claimed and self.confirm_by:
            shown["answer the claim"] = countdown(self.confirm_by - now)
        return shown

    @property
    def was_disputed(self) -> bool:
        """Disputed once (now, or decided since): its case stays readable."""
        return any(e.to_status == OrderStatus.disputed for e in self.timeline)

    def to_json(self) -> dict:
        data = asdict(self)
        data["timeline"] = [e.to_json() for e in self.timeline]
        return data


@dataclass(frozen=True)
class PaymentPreview:
    order_id: int
    title: str
    amount: int
    to: str
    balance_before: int
    balance_after: int
    revoke_window: int
    warning: str | None

    def to_json(self) -> dict:
        return asdict(self)


def handles(
    session: Session,
    ids: Iterable[int | None],
    users: Iterable[User] = (),
    known: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """Handles by user id, in one query; the `users` the caller has loaded already and the
    handles it `known`s cost none."""
    names = {**(known or {}), **{u.id: u.handle for u in users}}
    missing = {i for i in ids if i is not None and i not in names}
    if missing:
        rows = session.exec(select(User.id, User.handle).where(col(User.id).in_(missing)))
        names.update(rows.all())
    return names


def view(
    session: Session,
    order: Order,
    *,
    replayed: bool = False,
    timeline=False,
    users: Iterable[User] = (),
    names: Mapping[int, str] | None = None,
) -> OrderView:
    """What screens see of an order. `users` (rows) and `names` (handles by id): parties
    already loaded (no query for them)."""
    names = handles(session, (order.buyer_id, order.seller_id), users, names)
    return OrderView(
        id=order.id,
        listing_id=order.listing_id,
        title=order.title,
        buyer=names[order.buyer_id],
        seller=names[order.seller_id],
        kind=str(order.kind),
        quantity=order.quantity,
        unit_price=order.unit_price,
        amount=order.amount,
        status=str(order.status),
        created_at=order.created_at,
        updated_at=order.updated_at,
        revoke_until=order.revoke_until,
        deliver_by=order.deliver_by,
        confirm_by=order.confirm_by,
        extended=order.extended,
        paused=order.paused_at is not None,
        timer_failed_at=order.timer_failed_at,
        replayed=replayed,
        timeline=events(session, order.id) if timeline else [],
        slot_start=order.slot_start,
        slot_end=order.slot_end,
        deposit=order.deposit,
        returned_at=order.returned_at,
        claim_amount=order.claim_amount,
        claim_reason=order.claim_reason,
        handover=handover_of(session, order) if timeline else None,
    )


def events(session: Session, order_id: int) -> list[EventView]:
    rows = session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.id))
    ).all()
    names = handles(session, (e.actor_id for e in rows))
    return [
        EventView(e.id, e.at, names.get(e.actor_id), e.from_status, e.to_status, e.amount, e.note)
        for e in rows
    ]


def allowed_actions(order: OrderView, me: str, role: str) -> list[str]:
    """What the user with handle `me` may do to this order now (offered as buttons)."""
    actions = []
    rental = order.deposit is not None
    for action, rule in TRANSITIONS.items():
        if order.status not in rule.sources or rule.rental not in (None, rental):
            continue
        who = {
            "buyer": me == order.buyer,
            "seller": me == order.seller,
            "party": me in (order.buyer, order.seller),
            "mediator": role == Role.mediator and me not in (order.buyer, order.seller),
        }
        if action == "cancel" and order.status == OrderStatus.paid:
            # A paid order is cancelled only by the seller of a booked slot.
            who["party"] = order.slot_start is not None and me == order.seller
        if who[rule.actor] and not (action == "extend" and order.extended):
            actions.append(action)
    return actions


def list_orders(
    session: Session, user_id: int, *, side: str = "all", open_only: bool = False
) -> list[OrderView]:
    """The user's orders; `mediating`: disputes a mediator may resolve (never their own)."""
    query = select(Order)
    if side == "buying":
        query = query.where(Order.buyer_id == user_id)
    elif side == "selling":
        query = query.where(Order.seller_id == user_id)
    elif side == "mediating":
        viewer = session.get(User, user_id)
        if viewer is None or viewer.role != Role.mediator:
            raise Refused(
                "not_a_mediator",
                "Disputes to resolve are for mediators; disputes you are part of are "
                "under your buying and selling orders. The market's operator grants the role.",
            )
        query = query.where(
            Order.status == OrderStatus.disputed,
            Order.buyer_id != user_id,
            Order.seller_id != user_id,
        )
    else:
        query = query.where((Order.buyer_id == user_id) | (Order.seller_id == user_id))
    if open_only:
        query = query.where(col(Order.status).in_(OPEN))
    rows = session.exec(query.order_by(col(Order.id).desc())).all()
    names = handles(session, (i for o in rows for i in (o.buyer_id, o.seller_id)))
    return [view(session, o, names=names) for o in rows]


def get_order(session: Session, viewer: User, order_id: int) -> OrderView:
    order = order_row(session, order_id)
    # A mediator sees other people's orders only once they came to mediation.
    mediating = viewer.role == Role.mediator and order.disputed_from is not None
    if viewer.id not in (order.buyer_id, order.seller_id) and not mediating:
        raise Refused("not_your_order", f"Order #{order_id} is between other people.")
    return view(session, order, timeline=True)
