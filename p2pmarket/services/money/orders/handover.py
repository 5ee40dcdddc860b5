"""How a goods order changes hands: a meet-up at a public landmark at a time, or shipping
with the seller's tracking note. Either side proposes (a new proposal replaces the last,
agreed or not), the other agrees. Each proposal and agreement is an event on the order's
chain, so what was agreed can't be quietly rewritten; the `handover` row is its current
state, what the faces show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session

from p2pmarket import text
from p2pmarket.clock import Clock
from p2pmarket.errors import Refused
from p2pmarket.models import Handover, HandoverMethod, Kind, Order, OrderStatus, User
from p2pmarket.services.market import availability, catalog
from p2pmarket.services.money.orders.rules import order_row, record

if TYPE_CHECKING:
    from p2pmarket.services.money.orders.views import OrderView

# Before delivery: afterwards the thing has changed hands.
PROPOSABLE = frozenset({OrderStatus.requested, OrderStatus.accepted, OrderStatus.paid})
MEET_AHEAD_MAX = 60 * 86_400
TRACKING_MAX = 120


@dataclass(frozen=True)
class HandoverView:
    method: str
    area: str
    area_name: str
    landmark: str
    landmark_name: str
    meet_at: int | None
    tracking: str
    proposed_by: str
    agreed: bool

    def describe(self, zone: str) -> str:
        """One line, as a person reads it: 'meet at …, 2026-12-05 15:00 (UTC+08:00)'."""
        if self.method == HandoverMethod.ship:
            return f"shipping, tracking {self.tracking}"
        when = availability.local(self.meet_at, zone) if self.meet_at else ""
        return f"meet at {self.landmark_name} ({self.area_name}), {when}"

    def to_json(self) -> dict:
        return asdict(self)


def handover_of(session: Session, order: Order) -> HandoverView | None:
    row = session.get(Handover, order.id)
    if row is None:
        return None
    proposer = session.get(User, row.proposed_by)
    place = catalog.areas().get(row.area)
    spot = next((m for m in place.landmarks if m.key == row.landmark), None) if place else None
    return HandoverView(
        method=str(row.method),
        area=row.area,
        area_name=place.name if place else row.area,
        landmark=row.landmark,
        landmark_name=spot.name if spot else row.landmark,
        meet_at=row.meet_at,
        tracking=row.tracking,
        proposed_by=proposer.handle,
        agreed=row.agreed_by is not None,
    )


def _changeable(session: Session, actor: User, order_id: int, doing: str) -> Order:
    order = order_row(session, order_id)
    if actor.id not in (order.buyer_id, order.seller_id):
        raise Refused(
            "not_your_order",
            f"Only the buyer or the seller of order #{order.id} may {doing}.",
        )
    if order.kind != Kind.goods:
        raise Refused(
            "handover_goods_only",
            f"Order #{order.id} is for a {order.kind}, not goods: nothing changes hands.",
        )
    if order.status not in PROPOSABLE:
        raise Refused(
            "handover_closed",
            f"Order #{order.id} is {order.status}; how it changes hands is settled before "
            "delivery.",
        )
    return order


def _area_of(session: Session, order: Order, area: str | None) -> catalog.Area:
    """The area named, else the seller's home area, else the one nearest their public point."""
    if area is not None:
        return catalog.area(area)
    seller = session.get(User, order.seller_id)
    if seller.area:
        return catalog.area(seller.area)
    return catalog.nearest_area(seller.public_lat, seller.public_lon)


def propose_meet(
    session: Session,
    clock: Clock,
    zone: str,
    actor: User,
    order_id: int,
    *,
    at: int,
    place: str,
    area: str | None = None,
) -> HandoverView:
    """Propose meeting at a landmark of an area (the seller's, unless named) at `at`."""
    order = _changeable(session, actor, order_id, "propose a meet-up")
    now = clock.now()
    if at <= now:
        raise Refused(
            "meet_in_past",
            f"{availability.local(at, zone)} has passed; propose a time ahead.",
        )
    if at > now + MEET_AHEAD_MAX:
        raise Refused(
            "meet_too_far",
            f"A meet-up is at most {MEET_AHEAD_MAX // 86_400} days ahead; "
            f"{availability.local(at, zone)} is further.",
        )
    where = _area_of(session, order, area)
    spot = catalog.landmark(where, place)
    return _propose(
        session,
        order,
        actor,
        now,
        zone,
        HandoverMethod.meet,
        area=where.slug,
        landmark=spot.key,
        meet_at=at,
    )


def propose_ship(
    session: Session, clock: Clock, zone: str, actor: User, order_id: int, *, tracking: str
) -> HandoverView:
    """The seller ships it, with a tracking note (carrier and number) for the buyer."""
    order = _changeable(session, actor, order_id, "ship it")
    if actor.id != order.seller_id:
        raise Refused(
            "ship_seller_only",
            f"Only the seller of order #{order.id} ships it (with a tracking note); "
            "propose a meet-up instead, or ask the seller to ship.",
        )
    note = text.clean(tracking, field="tracking note", max_len=TRACKING_MAX)
    return _propose(session, order, actor, clock.now(), zone, HandoverMethod.ship, tracking=note)


def _propose(
    session: Session,
    order: Order,
    actor: User,
    now: int,
    zone: str,
    method: HandoverMethod,
    **where: object,
) -> HandoverView:
    """Put this proposal in place of any earlier one (agreed or not), and record it on the
    order's chain."""
    row = Handover(order_id=order.id, method=method, proposed_by=actor.id, updated_at=now, **where)
    session.merge(row)
    session.flush()
    shown = handover_of(session, order)
    record(session, order, actor.id, now, order.status, note=f"proposed: {shown.describe(zone)}")
    return shown


def agree(session: Session, clock: Clock, zone: str, actor: User, order_id: int) -> HandoverView:
    """The other side agrees to the standing proposal."""
    order = _changeable(session, actor, order_id, "agree how it changes hands")
    row = session.get(Handover, order.id)
    if row is None:
        raise Refused(
            "nothing_proposed",
            f"Nobody has proposed how order #{order.id} changes hands yet: propose a meet-up "
            "(or, as the seller, shipping).",
        )
    if row.agreed_by is not None:
        raise Refused("already_agreed", f"The handover of order #{order.id} is agreed already.")
    if row.proposed_by == actor.id:
        raise Refused(
            "own_proposal",
            f"You proposed this handover of order #{order.id}; the other side agrees to it.",
        )
    now = clock.now()
    if row.method == HandoverMethod.meet and row.meet_at <= now:
        raise Refused(
            "meet_in_past",
            f"The proposed meet-up time {availability.local(row.meet_at, zone)} has passed; "
            "propose a new one.",
        )
    row.agreed_by = actor.id
    row.updated_at = now
    session.add(row)
    session.flush()
    shown = handover_of(session, order)
    record(session, order, actor.id, now, order.status, note=f"agreed: {shown.describe(zone)}")
    return shown


def may_agree(view: HandoverView | None, me: str) -> bool:
    """Whether `me` (a party) may agree now: a standing proposal the other side made."""
    return view is not None and not view.agreed and view.proposed_by != me


def actions(order: OrderView, me: str) -> list[str]:
    """The handover steps `me` may take on this order now: meet (either side), ship (the
    seller), agree (to the other side's standing proposal)."""
    if order.kind != Kind.goods or order.status not in PROPOSABLE:
        return []
    if me not in (order.buyer, order.seller):
        return []
    found = ["meet"] + (["ship"] if me == order.seller else [])
    return found + (["agree"] if may_agree(order.handover, me) else [])


@dataclass(frozen=True)
class MeetingPlaces:
    """What a meet-up form offers: the area's landmarks, and a time to start from."""

    area: catalog.Area
    suggested_at: str  # tomorrow 15:00 on the market's clock, as --at takes it


def meeting_places(
    session: Session, clock: Clock, zone: str, order_id: int, area: str | None = None
) -> MeetingPlaces:
    """Where a meet-up for this order is proposed by default (with its landmarks)."""
    tomorrow = datetime.fromtimestamp(clock.now(), ZoneInfo(zone)).date() + timedelta(days=1)
    return MeetingPlaces(
        _area_of(session, order_row(session, order_id), area), f"{tomorrow.isoformat()}T15:00"
    )
