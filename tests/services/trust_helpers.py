"""Orders written straight into the store (as the order service would record them, credit
recomputed as it does), so trust and credit tests don't depend on the order state machine."""

from __future__ import annotations

from p2pmarket.clock import DAY, HOUR
from p2pmarket.models import Kind, Order, OrderEvent, OrderStatus, User
from p2pmarket.services.trust import credit
from tests.conftest import make_listing, make_user


def person(store, clock, handle: str, **kw) -> User:
    kw.setdefault("verified", True)
    return make_user(store, clock, handle, **kw)


def _event(session, order: Order, actor_id, at: int, src: str, dst: str, note: str = "") -> None:
    row = OrderEvent(
        order_id=order.id,
        actor_id=actor_id,
        at=at,
        from_status=src,
        to_status=dst,
        amount=order.amount,
        note=note,
        prev_hash="",
        hash="",
    )
    try:
        from p2pmarket.services.records import chain
    except ImportError:
        session.add(row)
        session.flush()
        return
    chain.append(session, row)


def order(
    store,
    clock,
    buyer: User,
    seller: User,
    amount: int = 100_00,
    *,
    path: tuple[str, ...] = ("accepted", "paid", "delivered", "completed"),
    actors: dict[str, int | None] | None = None,
    note: str = "",
    step: int = HOUR,
) -> int:
    """An order that went through `path` (one event per step, `step` seconds apart)."""
    listing = make_listing(store, clock, seller, price=amount, quantity=1)
    actors = actors or {}
    with store.write() as session:
        fields = {
            "listing_id": listing.id,
            "buyer_id": buyer.id,
            "seller_id": seller.id,
            "kind": Kind.skill,
            "quantity": 1,
            "unit_price": amount,
            "amount": amount,
            "status": OrderStatus(path[-1]),
            "created_at": clock.now(),
            "updated_at": clock.now(),
        }
        if "title" in Order.model_fields:
            fields["title"] = listing.title
        row = Order(**fields)
        session.add(row)
        session.flush()
        _event(session, row, buyer.id, clock.now(), "", "requested")
        previous = "requested"
        default_actor = {
            "accepted": seller.id,
            "paid": buyer.id,
            "delivered": seller.id,
            "completed": buyer.id,
            "disputed": buyer.id,
            "refunded": buyer.id,
        }
        for status in path:
            clock.advance(step)
            actor = actors.get(status, default_actor.get(status))
            _event(session, row, actor, clock.now(), previous, status, note)
            previous = status
        # As the order service does when an order is delivered or settled.
        session.flush()
        for user_id in (buyer.id, seller.id):
            credit.recompute(session, clock, user_id)
        return row.id


def completed(store, clock, buyer: User, seller: User, amount: int = 100_00) -> int:
    return order(store, clock, buyer, seller, amount)


def paid(store, clock, buyer: User, seller: User, amount: int) -> int:
    return order(store, clock, buyer, seller, amount, path=("accepted", "paid"))


def aged(clock, days: int) -> None:
    clock.advance(days * DAY)
