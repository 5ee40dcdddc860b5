"""Paying orders into their escrow: one (`pay`), several in one transaction (`pay_many`,
a few statements for the whole batch), and the preview shown before the second
confirmation. Every payment passes the same rules: who pays, the trust gate, the stock."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from types import SimpleNamespace

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.config import Settings
from p2pmarket.errors import MarketError, Refused
from p2pmarket.models import (
    Listing,
    Order,
    OrderEvent,
    OrderStatus,
    User,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.money.orders import slots
from p2pmarket.services.money.orders.rules import (
    LISTING,
    TAKE,
    TRANSITIONS,
    check_actor,
    check_source,
    no_order,
    order_row,
)
from p2pmarket.services.money.orders.views import OrderView, PaymentPreview, view
from p2pmarket.services.trust import gate


def _pay_params(buyer: User, order: Order) -> dict:
    """What a pay key stands for: the same key with other parameters is refused."""
    return {"buyer": buyer.id, "amount": order.amount}


def _check_pay(order, buyer: User) -> None:
    """Who may pay this order, and whether it can be paid now (every payment, batch or not)."""
    rule = TRANSITIONS["pay"]
    check_actor(order, rule, buyer, "pay")
    check_source(order, rule, "pay")


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
    revoke_window = settings.revoke_window
    if order.slot_start is not None:
        revoke_window = max(0, order.slot_start - clock.now())
        terms = slots.cancel_terms(order.slot_start, settings, clock.now(), order.deposit)
        warning = f"{warning} {terms}" if warning else terms
    return PaymentPreview(
        order_id=order.id,
        title=order.title,
        amount=order.amount,
        to=payee.handle,
        balance_before=before,
        balance_after=before - order.amount,
        revoke_window=revoke_window,
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
        raise no_order(order_id)
    params = _pay_params(buyer, order)
    postings = ledger.Postings(session, clock)
    if postings.replay(stored, "pay", order.id, params) is not None:
        return view(session, order, replayed=True, users=(buyer,))
    payee, _ = _payable(session, clock, settings, buyer, order)
    left = _stock(session, [order.listing_id]).get(order.listing_id) if _stocked(order) else None
    if left is not None and left < order.quantity:
        raise _sold_out(order)
    _post(session, postings, stored, buyer, ledger.wallet(session, buyer.id), order, params)
    paid, event = _paid(order, buyer, clock.now(), settings)
    taken = {order.listing_id: order.quantity} if left is not None else {}
    _write_paid(session, postings, [paid], [event], taken)
    return view(session, order, users=(buyer, payee))


def _pay_key(buyer: User, order_id: int, key: str | None) -> str:
    """The stored key of a payment: the buyer's own, or the market's for that order."""
    return ledger.user_key(buyer.id, key) if key else ledger.market_key(order_id, "pay")


def _post(
    session: Session,
    postings: ledger.Postings,
    key: str,
    buyer: User,
    wallet: ledger.Held,
    order,
    params: dict,
) -> None:
    """Queue one payment: the price into the order's escrow, or a rental's rent and its
    deposit as two postings (the deposit under the market's key for the order: once)."""
    deposit = order.deposit or 0
    if postings.available(wallet) < order.amount:  # both postings or neither
        raise ledger.short(wallet.kind, postings.available(wallet), order.amount)
    escrow = ledger.escrow(session, order.id)
    parts = [(key, "pay", order.amount - deposit, params)]
    if deposit:
        deposit_key = ledger.market_key(order.id, "deposit")
        parts.append((deposit_key, "deposit", deposit, {"buyer": buyer.id, "deposit": deposit}))
    for part_key, kind, amount, part_params in parts:
        postings.add(
            key=part_key,
            kind=kind,
            order_id=order.id,
            actor_id=buyer.id,
            legs=[(wallet, -amount), (escrow, amount)],
            params=part_params,
        )


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
    if order.slot_start is None:
        order.revoke_until = now + settings.revoke_window
        order.deliver_by = now + settings.delivery_deadline
    else:
        # A booking may be cancelled until its slot starts (slots.late_fee says at what
        # cost) and is delivered by the slot's end plus a grace.
        order.revoke_until = order.slot_start
        order.deliver_by = order.slot_end + settings.booking_grace
    paid = {
        "order_id": order.id,
        "now": now,
        "revoke": order.revoke_until,
        "deliver": order.deliver_by,
    }
    return paid, event


def _stocked(order) -> bool:
    """Does paying take the listing's stock? A booked slot holds the seller's time instead."""
    return order.slot_start is None


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
_STOCK = select(LISTING.c.id, LISTING.c.quantity).where(
    LISTING.c.id.in_(bindparam("ids", expanding=True))
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
    session: Session,
    postings: ledger.Postings,
    paid: list[dict],
    events: list[OrderEvent],
    taken: dict[int, int],
) -> None:
    """Write orders paid in memory: their money (`postings`), the stock they took, their
    new status and deadlines, and their events (chained with the ledger entries: one
    append moves every head the payments touch)."""
    postings.flush(chained=events)
    connection = session.connection()
    if taken:
        connection.execute(TAKE, [{"listing_id": i, "quantity": q} for i, q in taken.items()])
    connection.execute(_MARK_PAID, paid)
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
            raise no_order(order_id)
        params = _pay_params(self.buyer, order)
        if self.postings.replay(key, "pay", order.id, params) is not None:
            return view(self.session, order, replayed=True, users=self._parties(order))
        _check_pay(order, self.buyer)
        self._gate(order)
        left = self.stock.get(order.listing_id) if _stocked(order) else None
        if left is not None and left < order.quantity:
            raise _sold_out(order)
        _post(self.session, self.postings, key, self.buyer, self.wallet, order, params)
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
        _write_paid(self.session, self.postings, self.paid, self.events, self.taken)
        self.taken, self.paid, self.events = {}, [], []


def _users(session: Session, ids: set[int]) -> dict[int, User]:
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
