"""Orders and escrow: a table of allowed transitions, each one a recorded, chained event.

requested → accepted → paid (money in the order's escrow) → delivered → completed.
Cancel before payment. The buyer may revoke a paid order inside the revoke window
and before delivery (refunded). A missed delivery deadline refunds; an unconfirmed
delivery completes when the confirm window ends (money released to the seller).
Either side may dispute before completion; a dispute pauses every timer and a
mediator resolves it: release, refund or split. Timers run in `tick`, never in a
background thread, so moving the clock is all a test needs.

Over 1,000 lines, knowingly: the transition table, the batch payment engine and the views
share the guards and the escrow postings; their split (machine, payments, views) waits
until escrow per order and the chains per owner have settled in (#12 notes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from types import SimpleNamespace

from sqlalchemy import bindparam, case, literal, update
from sqlmodel import Session, col, or_, select

from p2pmarket import money, text
from p2pmarket.clock import Clock, countdown, iso
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, MarketError, Refused
from p2pmarket.models import (
    Account,
    AccountKind,
    Kind,
    Listing,
    ListingStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Role,
    User,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.records import chain
from p2pmarket.services.trust import contacts, credit, gate


@dataclass(frozen=True)
class Rule:
    sources: frozenset[OrderStatus]
    actor: str  # buyer | seller | party (either) | mediator
    target: OrderStatus | None  # None: decided by the resolution


TRANSITIONS: dict[str, Rule] = {
    "accept": Rule(frozenset({OrderStatus.requested}), "seller", OrderStatus.accepted),
    "cancel": Rule(
        frozenset({OrderStatus.requested, OrderStatus.accepted}), "party", OrderStatus.cancelled
    ),
    "pay": Rule(frozenset({OrderStatus.accepted}), "buyer", OrderStatus.paid),
    "revoke": Rule(frozenset({OrderStatus.paid}), "buyer", OrderStatus.refunded),
    "deliver": Rule(frozenset({OrderStatus.paid}), "seller", OrderStatus.delivered),
    "confirm": Rule(frozenset({OrderStatus.delivered}), "buyer", OrderStatus.completed),
    "extend": Rule(frozenset({OrderStatus.delivered}), "buyer", OrderStatus.delivered),
    "dispute": Rule(
        frozenset({OrderStatus.paid, OrderStatus.delivered}), "party", OrderStatus.disputed
    ),
    "resolve": Rule(frozenset({OrderStatus.disputed}), "mediator", None),
}
RESOLUTIONS = ("release", "refund", "split")
OPEN = frozenset(
    {
        OrderStatus.requested,
        OrderStatus.accepted,
        OrderStatus.paid,
        OrderStatus.delivered,
        OrderStatus.disputed,
    }
)
# Orders whose money sits in their escrow.
HELD = frozenset({OrderStatus.paid, OrderStatus.delivered, OrderStatus.disputed})
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
}


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

    def countdowns(self, now: int) -> dict[str, str]:
        """Human countdowns for the timers that are running now."""
        if self.paused:
            return {"timers": "paused by a dispute"}
        if self.timer_failed_at is not None:
            return {"timers": "stopped: a timer failed (the timeline says why)"}
        shown = {}
        if self.status == OrderStatus.paid and self.revoke_until and now < self.revoke_until:
            shown["revoke window"] = countdown(self.revoke_until - now)
        if self.status == OrderStatus.paid and self.deliver_by:
            shown["delivery deadline"] = countdown(self.deliver_by - now)
        if self.status == OrderStatus.delivered and self.confirm_by:
            shown["auto-confirm"] = countdown(self.confirm_by - now)
        return shown

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


def _handles(
    session: Session, ids: Iterable[int | None], users: Iterable[User] = ()
) -> dict[int, str]:
    """Handles by user id; `users` the caller has loaded already cost no query."""
    names = {u.id: u.handle for u in users}
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
) -> OrderView:
    """What screens see of an order. `users`: parties already loaded (no query for them)."""
    names = _handles(session, (order.buyer_id, order.seller_id), users)
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
    )


def events(session: Session, order_id: int) -> list[EventView]:
    rows = session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.id))
    ).all()
    names = _handles(session, (e.actor_id for e in rows))
    return [
        EventView(e.id, e.at, names.get(e.actor_id), e.from_status, e.to_status, e.amount, e.note)
        for e in rows
    ]


def order_row(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise _no_order(order_id)
    return order


def _no_order(order_id: int) -> Invalid:
    return Invalid("unknown_order", f"No order #{order_id}.")


def _record(
    session: Session,
    order: Order,
    actor_id: int | None,
    at: int,
    to: OrderStatus,
    amount: int = 0,
    note: str = "",
) -> None:
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
    chain.append(session, event)


def _release(
    session: Session,
    clock: Clock,
    order: Order,
    operation: str,
    to_seller: int,
    at: int | None = None,
) -> None:
    """Pay out the order's escrow: `to_seller` to the seller, the rest back to the buyer.

    The market's own key for `operation` makes it happen once per order, and no person
    can have taken that key before."""
    escrow = ledger.escrow(session, order.id)
    to_buyer = order.amount - to_seller
    legs = [(escrow, -order.amount)]
    if to_seller:
        legs.append((ledger.wallet(session, order.seller_id), to_seller))
    if to_buyer:
        legs.append((ledger.wallet(session, order.buyer_id), to_buyer))
    kind = "release" if to_buyer == 0 else "refund" if to_seller == 0 else "split"
    ledger.transfer(
        session,
        clock,
        key=ledger.market_key(order.id, operation),
        kind=kind,
        legs=legs,
        order_id=order.id,
        params={"to_seller": to_seller, "to_buyer": to_buyer},
        at=at,
    )
    if to_buyer == order.amount:
        _restock(session, order)


def _old_escrow_orders(session: Session) -> list[tuple[int, int]]:
    """(id, amount) of the orders whose money still sits in a pre-v6 store's single ESCROW:
    held, with no escrow of their own."""
    own = select(Account.id).where(Account.order_id == Order.id)
    return session.exec(
        select(Order.id, Order.amount)
        .where(col(Order.status).in_(HELD), ~own.exists())
        .order_by(col(Order.id))
    ).all()


def old_escrow_to_split(session: Session) -> bool:
    """True if a store from before v6 still holds money in its single ESCROW (a read)."""
    return (
        session.exec(
            select(Account.id).where(
                Account.kind == AccountKind.escrow,
                col(Account.order_id).is_(None),
                Account.balance != 0,
            )
        ).first()
        is not None
    )


def split_old_escrow(session: Session, clock: Clock) -> int:
    """Move a pre-v6 store's single ESCROW into the escrow of each order it holds money for.

    One chained transfer, the old ESCROW paying each held order's amount into that order's
    own account, so verify's sums still hold and every later release reads one order's
    row. Left alone (verify reports it) when the old balance is not what those orders
    total: that store's ledger is damaged. Returns how many orders were given their escrow.
    """
    old = ledger.old_escrow(session)
    held = _old_escrow_orders(session)
    if old is None or not held or old.balance != sum(amount for _, amount in held):
        return 0
    ledger.transfer(
        session,
        clock,
        key=f"{ledger.MARKET_SPACE}escrow_split",
        kind="escrow_split",
        legs=[
            (old, -old.balance),
            *((ledger.escrow(session, order_id), amount) for order_id, amount in held),
        ],
        params={"orders": [order_id for order_id, _ in held]},
    )
    return len(held)


# A listing's stock moves in one statement each way (paying takes it, a full refund puts
# it back), so the check and the change read the same row under the write lock.
_LISTING = Listing.__table__


def _status(status: ListingStatus):
    return literal(status, _LISTING.c.status.type)


_TAKE = (
    update(_LISTING)
    .where(
        _LISTING.c.id == bindparam("listing_id"),
        _LISTING.c.quantity >= bindparam("quantity"),
    )
    .values(
        quantity=_LISTING.c.quantity - bindparam("quantity"),
        status=case(
            (_LISTING.c.quantity == bindparam("quantity"), _status(ListingStatus.sold_out)),
            else_=_LISTING.c.status,
        ),
    )
)
_RESTOCK = (
    update(_LISTING)
    .where(_LISTING.c.id == bindparam("listing_id"))
    .values(
        quantity=_LISTING.c.quantity + bindparam("quantity"),
        status=case(
            (_LISTING.c.status == ListingStatus.sold_out, _status(ListingStatus.active)),
            else_=_LISTING.c.status,
        ),
    )
)


def _restock(session: Session, order: Order) -> None:
    if order.listing_id is None or order.status not in HELD:
        return
    session.connection().execute(
        _RESTOCK, {"listing_id": order.listing_id, "quantity": order.quantity}
    )


def _check_actor(order: Order, rule: Rule, actor: User, action: str) -> None:
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


def _check_source(order: Order, rule: Rule, action: str) -> None:
    if order.status in rule.sources:
        return
    why = _WHY_NOT.get((action, order.status))
    if why is None:
        allowed = " or ".join(sorted(rule.sources))
        why = f"it is {order.status}; {action} needs it to be {allowed}"
    raise Refused(f"cannot_{action}", f"You can't {action} order #{order.id}: {why}.")


def allowed_actions(order: OrderView, me: str, role: str) -> list[str]:
    """What the user with handle `me` may do to this order now (offered as buttons)."""
    actions = []
    for action, rule in TRANSITIONS.items():
        if order.status not in rule.sources:
            continue
        who = {
            "buyer": me == order.buyer,
            "seller": me == order.seller,
            "party": me in (order.buyer, order.seller),
            "mediator": role == Role.mediator and me not in (order.buyer, order.seller),
        }
        if who[rule.actor] and not (action == "extend" and order.extended):
            actions.append(action)
    return actions


def create_order(
    session: Session, clock: Clock, buyer: User, listing_id: int, quantity: int = 1
) -> OrderView:
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
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise Invalid("quantity_range", "Quantity must be a whole number of at least 1.")
    if quantity > listing.quantity:
        raise Refused(
            "not_enough_quantity",
            f"Listing #{listing_id} has {listing.quantity} left; you asked for {quantity}.",
        )
    amount = money.check(listing.price * quantity)
    now = clock.now()
    order = Order(
        listing_id=listing.id,
        title=listing.title,
        buyer_id=buyer.id,
        seller_id=listing.seller_id,
        kind=listing.kind,
        quantity=quantity,
        unit_price=listing.price,
        amount=amount,
        status=OrderStatus.requested,
        created_at=now,
        updated_at=now,
    )
    return _open(session, order, buyer.id, f"{quantity} × {money.fmt(listing.price)}")


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


def _pay_params(buyer: User, order: Order) -> dict:
    """What a pay key stands for: the same key with other parameters is refused."""
    return {"buyer": buyer.id, "amount": order.amount}


def _check_pay(order, buyer: User) -> None:
    """Who may pay this order, and whether it can be paid now (every payment, batch or not)."""
    rule = TRANSITIONS["pay"]
    _check_actor(order, rule, buyer, "pay")
    _check_source(order, rule, "pay")


def _payable(
    session: Session, clock: Clock, settings: Settings, buyer: User, order: Order
) -> tuple[User, str | None]:
    """Every rule one payment passes, for its preview and for paying it: the payee, and
    the warning to show before the second confirmation (or Refused)."""
    _check_pay(order, buyer)
    payee = session.get(User, order.seller_id)
    return payee, _money_gate(session, clock, settings, buyer, payee, order)


def preview_payment(
    session: Session, clock: Clock, settings: Settings, buyer: User, order_id: int
) -> PaymentPreview:
    """What paying would do — shown before the second confirmation. Moves nothing."""
    order = order_row(session, order_id)
    payee, warning = _payable(session, clock, settings, buyer, order)
    before = ledger.balance(session, buyer.id)
    return PaymentPreview(
        order_id=order.id,
        title=order.title,
        amount=order.amount,
        to=payee.handle,
        balance_before=before,
        balance_after=before - order.amount,
        revoke_window=settings.revoke_window,
        warning=warning,
    )


def pay(
    session: Session,
    clock: Clock,
    settings: Settings,
    buyer: User,
    order_id: int,
    key: str | None = None,
) -> OrderView:
    """Pay one order into escrow: the rules of its preview, then one transfer.

    `key`: the buyer's own idempotency key, or None for the market's payment key of the
    order. A retry with the same key returns the order as paid then, moving nothing.
    Several orders paid together go through `pay_many` instead.
    """
    stored = _pay_key(buyer, order_id, key)
    order = _order_rows(session, [order_id]).get(order_id)
    if order is None:
        raise _no_order(order_id)
    params = _pay_params(buyer, order)
    postings = ledger.Postings(session, clock)
    if postings.replay(stored, "pay", order.id, params) is not None:
        return view(session, order, replayed=True, users=(buyer,))
    payee, _ = _payable(session, clock, settings, buyer, order)
    left = _stock(session, [order.listing_id]).get(order.listing_id)
    if left is not None and left < order.quantity:
        raise _sold_out(order)
    postings.add(
        key=stored,
        kind="pay",
        order_id=order.id,
        actor_id=buyer.id,
        legs=_pay_legs(session, ledger.wallet(session, buyer.id), order),
        params=params,
    )
    postings.flush()
    paid, event = _paid(order, buyer, clock.now(), settings)
    taken = {order.listing_id: order.quantity} if left is not None else {}
    _write_paid(session, [paid], [event], taken)
    return view(session, order, users=(buyer, payee))


def _pay_key(buyer: User, order_id: int, key: str | None) -> str:
    """The stored key of a payment: the buyer's own, or the market's for that order."""
    return ledger.user_key(buyer.id, key) if key else ledger.market_key(order_id, "pay")


def _pay_legs(session: Session, wallet: ledger.Held, order) -> list[tuple[ledger.Held, int]]:
    return [
        (wallet, -order.amount),
        (ledger.escrow(session, order.id), order.amount),
    ]


def _paid(order, buyer: User, now: int, settings: Settings) -> tuple[dict, OrderEvent]:
    """Mark `order` (read with Core) paid in memory: its row's new values and its event."""
    event = OrderEvent(
        order_id=order.id,
        actor_id=buyer.id,
        at=now,
        from_status=str(order.status),
        to_status=str(OrderStatus.paid),
        amount=order.amount,
        note="into escrow",
    )
    order.status, order.updated_at = OrderStatus.paid, now
    order.revoke_until = now + settings.revoke_window
    order.deliver_by = now + settings.delivery_deadline
    paid = {
        "order_id": order.id,
        "now": now,
        "revoke": order.revoke_until,
        "deliver": order.deliver_by,
    }
    return paid, event


def _sold_out(order) -> Refused:
    return Refused(
        "sold_out",
        f"Listing #{order.listing_id} sold out before you paid; nothing was charged.",
    )


def _money_gate(
    session: Session, clock: Clock, settings: Settings, payer: User, payee: User, order: Order
) -> str | None:
    """The trust rules: a warning to show before confirming, or Refused.

    A payment request from chat passes the whole money lock (tiers, limits, trade mode);
    an order from a listing passes the eligibility part (blocked, verified, facts, credit).
    """
    if not order.via_chat:
        gate.check_eligible(session, clock, payer, payee, settings=settings, actor=payer)
        return None
    verdict = gate.check_money(
        session,
        clock,
        payer,
        payee,
        order.amount,
        settings=settings,
        actor=payer,
        require_trade_mode=True,
    )
    return verdict.warning


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
) -> OrderView:
    """Apply one transition from TRANSITIONS as `actor`."""
    if action not in TRANSITIONS:
        raise Invalid("unknown_action", f"Unknown order action {action!r}.")
    if action == "pay":
        return pay(session, clock, settings, actor, order_id, key)
    order = order_row(session, order_id)
    rule = TRANSITIONS[action]
    now = clock.now()
    _check_actor(order, rule, actor, action)
    _check_source(order, rule, action)
    handler = _HANDLERS[action]
    loaded = handler(
        session, clock, settings, actor, order, now, key=key, resolution=resolution, split=split
    )
    _settle_credit(session, clock, settings, order)
    return view(session, order, users=(actor, *(loaded or ())))


def pay_many(
    session: Session,
    clock: Clock,
    settings: Settings,
    buyer: User,
    order_ids: list[int],
    *,
    keys: list[str | None] | None = None,
) -> list[OrderView | MarketError]:
    """Pay several orders in one transaction: one commit, one fsync, for all of them.

    Each order passes every rule against what the orders before it did (stock taken,
    wallet debited, amount open with the payee); a refused order changes nothing and
    the others stand. The writes go out together, a few statements for the whole batch.
    `keys`: the buyer's own idempotency key per order, or None for the market's payment
    key of that order. Each result is acknowledged only when the caller's transaction commits.
    """
    keys = [
        _pay_key(buyer, order_id, key)
        for order_id, key in zip(order_ids, keys or [None] * len(order_ids), strict=True)
    ]
    batch = _Payments(session, clock, settings, buyer, order_ids, keys)
    results: list[OrderView | MarketError] = []
    for order_id, key in zip(order_ids, keys, strict=True):
        try:
            results.append(batch.pay(order_id, key))
        except MarketError as exc:
            results.append(exc)
    batch.flush()
    return results


# Payments read and write orders and stock with Core statements built once: the ORM's
# unit of work costs more than the SQL on the pay path.
_ORDERS = Order.__table__
_ORDER_ROWS = select(_ORDERS).where(_ORDERS.c.id.in_(bindparam("ids", expanding=True)))
_STOCK = select(_LISTING.c.id, _LISTING.c.quantity).where(
    _LISTING.c.id.in_(bindparam("ids", expanding=True))
)
_MARK_PAID = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"))
    .values(
        status=OrderStatus.paid,
        updated_at=bindparam("now"),
        revoke_until=bindparam("revoke"),
        deliver_by=bindparam("deliver"),
    )
)


def _order_rows(session: Session, ids: Iterable[int]) -> dict[int, SimpleNamespace]:
    """Orders by id, as plain objects a payment changes in memory before writing them."""
    rows = session.connection().execute(_ORDER_ROWS, {"ids": sorted(set(ids))})
    return {row.id: SimpleNamespace(**row._mapping) for row in rows}


def _stock(session: Session, listing_ids: Iterable[int | None]) -> dict[int, int]:
    """What is left of each listing (an order from chat has none)."""
    ids = sorted({i for i in listing_ids if i is not None})
    return dict(session.connection().execute(_STOCK, {"ids": ids}).all()) if ids else {}


def _write_paid(
    session: Session, paid: list[dict], events: list[OrderEvent], taken: dict[int, int]
) -> None:
    """Write orders paid in memory (their money already posted): the stock they took,
    their new status and deadlines, their events."""
    connection = session.connection()
    if taken:
        connection.execute(_TAKE, [{"listing_id": i, "quantity": q} for i, q in taken.items()])
    connection.execute(_MARK_PAID, paid)
    chain.append_all(session, events)
    # Written with Core: an ORM copy of these rows loaded earlier would be stale.
    for model, ids in ((Order, [p["order_id"] for p in paid]), (Listing, taken)):
        for row_id in ids:
            loaded = session.identity_map.get(session.identity_key(model, row_id))
            if loaded is not None:
                session.expire(loaded)


class _Payments:
    """Orders paid in memory one by one, then written together by `flush`.

    Orders, payees, listings' stock and earlier payment keys are read once for the
    batch. The eligibility gate is asked once per payee (nothing a payment does moves
    it); a payment request from chat flushes first, so its limit sees the batch.
    """

    def __init__(
        self,
        session: Session,
        clock: Clock,
        settings: Settings,
        buyer: User,
        order_ids: list[int],
        keys: list[str],
    ) -> None:
        self.session, self.clock, self.settings, self.buyer = session, clock, settings, buyer
        self.orders = _order_rows(session, order_ids)
        self.stock = _stock(session, (o.listing_id for o in self.orders.values()))
        self.payees = _users(session, {o.seller_id for o in self.orders.values()})
        self.postings = ledger.Postings(session, clock)
        self.postings.lookup(keys)
        self.gates: dict[int, MarketError | None] = {}
        self.taken: dict[int, int] = {}
        self.paid: list[dict] = []
        self.events: list[OrderEvent] = []

    @cached_property
    def wallet(self) -> ledger.Held:
        """Read (or opened) by the first payment that gets this far: refusals write nothing."""
        return ledger.wallet(self.session, self.buyer.id)

    def pay(self, order_id: int, key: str) -> OrderView:
        order = self.orders.get(order_id)
        if order is None:
            raise _no_order(order_id)
        params = _pay_params(self.buyer, order)
        if self.postings.replay(key, "pay", order.id, params) is not None:
            return view(self.session, order, replayed=True, users=self._parties(order))
        _check_pay(order, self.buyer)
        self._gate(order)
        left = self.stock.get(order.listing_id)
        if left is not None and left < order.quantity:
            raise _sold_out(order)
        self.postings.add(
            key=key,
            kind="pay",
            order_id=order.id,
            actor_id=self.buyer.id,
            legs=_pay_legs(self.session, self.wallet, order),
            params=params,
        )
        if left is not None:
            self.stock[order.listing_id] = left - order.quantity
            self.taken[order.listing_id] = self.taken.get(order.listing_id, 0) + order.quantity
        paid, event = _paid(order, self.buyer, self.clock.now(), self.settings)
        self.paid.append(paid)
        self.events.append(event)
        return view(self.session, order, users=self._parties(order))

    def _parties(self, order) -> tuple[User, User]:
        return (self.buyer, self.payees[order.seller_id])

    def _gate(self, order) -> None:
        payee = self.payees[order.seller_id]
        if order.via_chat:
            self.flush()
            _money_gate(self.session, self.clock, self.settings, self.buyer, payee, order)
            return
        if payee.id not in self.gates:
            try:
                _money_gate(self.session, self.clock, self.settings, self.buyer, payee, order)
                self.gates[payee.id] = None
            except MarketError as exc:
                self.gates[payee.id] = exc
        if self.gates[payee.id] is not None:
            raise self.gates[payee.id]

    def flush(self) -> None:
        """Write every payment made so far: stock, ledger, orders, their events."""
        if not self.paid:
            return
        self.postings.flush()
        _write_paid(self.session, self.paid, self.events, self.taken)
        self.taken, self.paid, self.events = {}, [], []


def _users(session: Session, ids: set[int]) -> dict[int, User]:
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def _accept(session, clock, settings, actor, order, now, **_):
    _record(session, order, actor.id, now, OrderStatus.accepted)


def _cancel(session, clock, settings, actor, order, now, **_):
    _record(session, order, actor.id, now, OrderStatus.cancelled)


def _revoke(session, clock, settings, actor, order, now, **_):
    if now >= order.revoke_until:
        raise Refused(
            "revoke_window_closed",
            f"You can't revoke order #{order.id}: the revoke window closed at "
            f"{iso(order.revoke_until)}; open a dispute instead.",
        )
    _release(session, clock, order, "revoke", to_seller=0)
    _record(session, order, actor.id, now, OrderStatus.refunded, order.amount, "revoked by buyer")


def _deliver(session, clock, settings, actor, order, now, **_):
    window = (
        settings.confirm_window_goods
        if order.kind == Kind.goods
        else settings.confirm_window_service
    )
    order.confirm_by = now + window
    order.revoke_until = None
    _record(session, order, actor.id, now, OrderStatus.delivered)


def _confirm(session, clock, settings, actor, order, now, **_):
    _release(session, clock, order, "release", to_seller=order.amount)
    _record(
        session, order, actor.id, now, OrderStatus.completed, order.amount, "released to seller"
    )


def _extend(session, clock, settings, actor, order, now, **_):
    if order.extended:
        raise Refused(
            "already_extended",
            f"The confirm window of order #{order.id} was already extended once.",
        )
    order.extended = True
    order.confirm_by += settings.confirm_extension
    _record(
        session,
        order,
        actor.id,
        now,
        OrderStatus.delivered,
        note=f"confirm window extended by {countdown(settings.confirm_extension)}",
    )


def _dispute(session, clock, settings, actor, order, now, **_):
    order.disputed_from = order.status
    order.paused_at = now
    _record(session, order, actor.id, now, OrderStatus.disputed, note=f"from {order.status}")


def parse_resolution(resolution: str, amount: str | None = None) -> tuple[str, int | None]:
    """A mediator's decision as typed in either face — release, refund, or split AMOUNT (the
    seller's share in yuan) — as `act`'s resolution and split; `_resolve` judges them."""
    if resolution == "split" and amount is None:
        raise Invalid("split_amount", "split needs the seller's share, e.g. `split 40`.")
    return resolution, money.parse(amount) if amount is not None else None


def _resolve(session, clock, settings, actor, order, now, resolution, split, **_):
    if resolution not in RESOLUTIONS:
        raise Invalid("resolution", "A resolution is release, refund or split AMOUNT.")
    to_seller = {"release": order.amount, "refund": 0}.get(resolution, split)
    if resolution == "split" and (split is None or not 0 < split < order.amount):
        raise Invalid(
            "split_range",
            f"A split gives the seller more than 0 and less than {money.fmt(order.amount)}.",
        )
    target = {
        "release": OrderStatus.completed,
        "refund": OrderStatus.refunded,
        "split": OrderStatus.resolved,
    }[resolution]
    _release(session, clock, order, "resolve", to_seller=to_seller)
    order.paused_at = None
    _record(
        session,
        order,
        actor.id,
        now,
        target,
        to_seller,
        f"mediator: {resolution} ({money.fmt(to_seller)} to seller, "
        f"{money.fmt(order.amount - to_seller)} to buyer)",
    )


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
}


def _due(now: int):
    return select(Order).where(
        col(Order.paused_at).is_(None),
        col(Order.timer_failed_at).is_(None),
        or_(
            (Order.status == OrderStatus.paid) & (col(Order.deliver_by) <= now),
            (Order.status == OrderStatus.delivered) & (col(Order.confirm_by) <= now),
        ),
    )


def anything_due(session: Session, clock: Clock) -> bool:
    """A cheap read: does `tick` have work? (Lets read-only commands skip a write.)"""
    return session.exec(_due(clock.now()).limit(1)).first() is not None


def _settle_credit(session: Session, clock: Clock, settings: Settings, order: Order) -> None:
    """An order that ended (or was delivered) changes both sides' transaction credit."""
    if order.status in CREDIT_MOVES:
        session.flush()
        for user_id in (order.buyer_id, order.seller_id):
            credit.recompute(session, clock, user_id, settings)


@dataclass(frozen=True)
class Timer:
    operation: str  # the market's key for its payout
    deadline: str  # the Order field it runs out at
    to_seller: bool  # the whole amount to the seller, or all back to the buyer
    target: OrderStatus
    note: str
    what: str  # named in the timeline when it fails


# The timer running for an order in each status, and what happens when it runs out.
TIMERS: dict[OrderStatus, Timer] = {
    OrderStatus.paid: Timer(
        "deadline-refund",
        "deliver_by",
        False,
        OrderStatus.refunded,
        "delivery deadline missed: refunded",
        "the refund for the missed delivery deadline",
    ),
    OrderStatus.delivered: Timer(
        "auto-release",
        "confirm_by",
        True,
        OrderStatus.completed,
        "confirm window ended: released to seller",
        "the release at the end of the confirm window",
    ),
}


def _expire(session: Session, clock: Clock, settings: Settings, order: Order, timer: Timer) -> None:
    at = getattr(order, timer.deadline)
    _release(session, clock, order, timer.operation, order.amount if timer.to_seller else 0, at=at)
    _record(session, order, None, at, timer.target, order.amount, timer.note)
    _settle_credit(session, clock, settings, order)


def tick(session: Session, clock: Clock, settings: Settings) -> list[int]:
    """Run the timers that are due: missed delivery refunds, unconfirmed delivery completes.

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
            _record(
                session, order, None, now, order.status, note=f"{timer.what} failed: {exc.message}"
            )
        else:
            settled.append(order.id)
    return settled


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
    return [view(session, o) for o in rows]


def get_order(session: Session, viewer: User, order_id: int) -> OrderView:
    order = order_row(session, order_id)
    # A mediator sees other people's orders only once they came to mediation.
    mediating = viewer.role == Role.mediator and order.disputed_from is not None
    if viewer.id not in (order.buyer_id, order.seller_id) and not mediating:
        raise Refused("not_your_order", f"Order #{order_id} is between other people.")
    return view(session, order, timeline=True)
