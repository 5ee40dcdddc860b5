"""The order state machine and escrow, with time moved by the injected clock."""

import pytest
from sqlalchemy import event
from sqlmodel import select

from p2pmarket.clock import DAY, HOUR
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Kind, Listing, ListingStatus, OrderEvent, Role, Unit, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.records import audit
from tests.conftest import DISPUTE, make_listing, make_user

SETTINGS = Settings()


class Market:
    """A buyer with money, a seller with a listing, a mediator, on a real store."""

    def __init__(self, store, clock, *, kind=Kind.skill, quantity=5, price=15000):
        self.store, self.clock = store, clock
        self.buyer = make_user(store, clock, "bob", verified=True)
        self.seller = make_user(store, clock, "lin", verified=True)
        self.mediator = make_user(store, clock, "mei", role=Role.mediator, verified=True)
        fields = {"kind": kind, "quantity": quantity, "price": price}
        if kind == Kind.goods:
            fields.update(category="bicycles", unit=Unit.item, title="City bike")
        self.listing = make_listing(store, clock, self.seller, **fields)
        self.topup(self.buyer, 100_000)

    def topup(self, user, amount, key=None):
        with self.store.write() as s:
            return ledger.topup(s, self.clock, user.id, amount, key or f"t{user.id}-{amount}")

    def act(self, who, order_id, action, **kw):
        with self.store.write() as s:
            return orders.act(s, self.clock, SETTINGS, s.get(User, who.id), order_id, action, **kw)

    def order(self, qty=1):
        with self.store.write() as s:
            return orders.create_order(
                s, self.clock, s.get(User, self.buyer.id), self.listing.id, qty
            )

    def paid_order(self, qty=1):
        o = self.order(qty)
        self.act(self.seller, o.id, "accept")
        return self.act(self.buyer, o.id, "pay")

    def balances(self):
        with self.store.read() as s:
            return (
                ledger.balance(s, self.buyer.id),
                ledger.balance(s, self.seller.id),
                ledger.totals(s).escrow,
            )

    def tick(self):
        with self.store.write() as s:
            return orders.tick(s, self.clock, SETTINGS)


@pytest.fixture
def market(store, clock):
    return Market(store, clock)


def test_happy_path_moves_money_through_escrow(market):
    o = market.paid_order(qty=2)
    assert o.status == "paid" and o.amount == 30000
    assert market.balances() == (70000, 0, 30000)
    market.act(market.seller, o.id, "deliver")
    done = market.act(market.buyer, o.id, "confirm")
    assert done.status == "completed"
    assert market.balances() == (70000, 30000, 0)
    with market.store.read() as s:
        steps = [(e.from_status, e.to_status) for e in orders.events(s, o.id)]
    assert steps == [
        ("", "requested"),
        ("requested", "accepted"),
        ("accepted", "paid"),
        ("paid", "delivered"),
        ("delivered", "completed"),
    ]


def test_second_pay_with_same_key_replays_and_other_key_is_refused(market):
    o = market.paid_order()
    again = market.act(market.buyer, o.id, "pay")
    assert again.replayed and again.status == "paid"
    assert market.balances() == (85000, 0, 15000)
    with pytest.raises(Refused, match="already paid"):
        market.act(market.buyer, o.id, "pay", key="another-key")


def test_idempotency_key_reused_for_other_params_is_refused(market):
    market.topup(market.buyer, 500, key="k1")
    assert market.topup(market.buyer, 500, key="k1").replayed
    with pytest.raises(Refused, match="different request"):
        market.topup(market.buyer, 700, key="k1")
    assert market.balances()[0] == 100_500


@pytest.mark.parametrize(
    ("who", "action", "reason"),
    [
        ("buyer", "accept", "Only the seller"),
        ("seller", "pay", "Only the buyer"),
        ("mediator", "cancel", "Only the buyer or the seller"),
    ],
)
def test_only_the_right_party_acts(market, who, action, reason):
    o = market.order()
    if action == "pay":
        market.act(market.seller, o.id, "accept")
    with pytest.raises(Refused, match=reason):
        market.act(getattr(market, who), o.id, action)


def test_cannot_order_own_listing_or_pay_without_money(market):
    with market.store.write() as s, pytest.raises(Refused, match="own listing"):
        orders.create_order(s, market.clock, s.get(User, market.seller.id), market.listing.id)
    with market.store.write() as s:
        ledger.withdraw(s, market.clock, market.buyer.id, 95000, "w1")
    o = market.order()
    market.act(market.seller, o.id, "accept")
    with pytest.raises(Refused) as info:
        market.act(market.buyer, o.id, "pay")
    assert info.value.code == "insufficient_funds"
    assert "¥100.00 missing" in info.value.message
    assert market.balances() == (5000, 0, 0)


def test_revoke_just_inside_and_just_outside_the_window(market):
    inside = market.paid_order()
    market.clock.advance(SETTINGS.revoke_window - 1)
    assert market.act(market.buyer, inside.id, "revoke").status == "refunded"
    outside = market.paid_order()
    market.clock.advance(SETTINGS.revoke_window)
    with pytest.raises(Refused, match="revoke window closed"):
        market.act(market.buyer, outside.id, "revoke")
    assert market.balances() == (85000, 0, 15000)


def test_revoke_after_delivery_is_refused_with_the_way_out(market):
    o = market.paid_order()
    market.act(market.seller, o.id, "deliver")
    with pytest.raises(Refused, match="open a dispute"):
        market.act(market.buyer, o.id, "revoke")


def test_missed_delivery_deadline_refunds_at_the_deadline(market):
    o = market.paid_order()
    market.clock.advance(SETTINGS.delivery_deadline - 1)
    assert market.tick() == []
    market.clock.advance(1 * DAY)
    assert market.tick() == [o.id]
    assert market.balances() == (100000, 0, 0)
    with market.store.read() as s:
        last = s.exec(
            select(OrderEvent).where(OrderEvent.order_id == o.id).order_by(OrderEvent.id.desc())
        ).first()
        assert last.to_status == "refunded" and last.actor_id is None
        assert last.at == o.deliver_by
        assert s.get(Listing, market.listing.id).quantity == 5


@pytest.mark.parametrize(
    ("kind", "window"),
    [
        (Kind.goods, SETTINGS.confirm_window_goods),
        (Kind.skill, SETTINGS.confirm_window_service),
    ],
)
def test_unconfirmed_delivery_auto_completes(store, clock, kind, window):
    market = Market(store, clock, kind=kind)
    o = market.paid_order()
    market.act(market.seller, o.id, "deliver")
    market.clock.advance(window - 1)
    assert market.tick() == []
    market.clock.advance(1)
    assert market.tick() == [o.id]
    assert market.balances()[1] == o.amount


def test_buyer_extends_confirm_window_once(market):
    o = market.paid_order()
    market.act(market.seller, o.id, "deliver")
    extended = market.act(market.buyer, o.id, "extend")
    assert extended.confirm_by - market.clock.now() == (
        SETTINGS.confirm_window_service + SETTINGS.confirm_extension
    )
    with pytest.raises(Refused, match="already extended"):
        market.act(market.buyer, o.id, "extend")
    market.clock.advance(SETTINGS.confirm_window_service + 1)
    assert market.tick() == []


def test_dispute_pauses_timers_and_mediator_splits(market):
    o = market.paid_order()
    market.act(market.seller, o.id, "dispute", opening=DISPUTE)
    market.clock.advance(30 * DAY)
    assert market.tick() == []
    with pytest.raises(Refused, match="mediator"):
        market.act(market.buyer, o.id, "resolve", resolution="refund")
    with pytest.raises(Invalid):
        market.act(market.mediator, o.id, "resolve", resolution="split", split=15000)
    done = market.act(market.mediator, o.id, "resolve", resolution="split", split=6000)
    assert done.status == "resolved"
    assert market.balances() == (85000 + 9000, 6000, 0)


@pytest.mark.parametrize(
    ("resolution", "status", "seller_gets"),
    [
        ("release", "completed", 15000),
        ("refund", "refunded", 0),
    ],
)
def test_mediator_release_or_refund(market, resolution, status, seller_gets):
    o = market.paid_order()
    market.act(market.buyer, o.id, "dispute", opening=DISPUTE)
    done = market.act(market.mediator, o.id, "resolve", resolution=resolution)
    assert done.status == status
    assert market.balances()[1] == seller_gets


def test_cancel_only_before_payment(market):
    o = market.order()
    assert market.act(market.seller, o.id, "cancel").status == "cancelled"
    paid = market.paid_order()
    with pytest.raises(Refused, match="revoke"):
        market.act(market.buyer, paid.id, "cancel")


def test_paying_the_last_item_sells_out_and_refund_restocks(store, clock):
    market = Market(store, clock, kind=Kind.goods, quantity=1)
    o = market.paid_order()
    with store.read() as s:
        assert s.get(Listing, market.listing.id).status == ListingStatus.sold_out
    with pytest.raises(Refused, match="only while active"):
        market.order()
    market.act(market.buyer, o.id, "revoke")
    with store.read() as s:
        listing = s.get(Listing, market.listing.id)
        assert (listing.status, listing.quantity) == (ListingStatus.active, 1)


def test_countdowns_and_allowed_actions(market):
    o = market.paid_order()
    market.clock.advance(2 * HOUR)
    with market.store.read() as s:
        v = orders.get_order(s, s.get(User, market.buyer.id), o.id)
    assert v.countdowns(market.clock.now()) == {
        "revoke window": "22h 0m",
        "delivery deadline": "6d 22h",
    }
    assert orders.allowed_actions(v, "bob", "member") == ["revoke", "dispute"]
    assert orders.allowed_actions(v, "lin", "member") == ["deliver", "dispute"]
    assert orders.allowed_actions(v, "mei", "mediator") == []


def test_strangers_cannot_read_an_order(market):
    o = market.order()
    eve = make_user(market.store, market.clock, "eve")
    with market.store.read() as s, pytest.raises(Refused):
        orders.get_order(s, s.get(User, eve.id), o.id)


def test_completing_an_order_moves_both_credit_histories(market):
    from p2pmarket.services.trust import credit

    o = market.paid_order()
    market.act(market.seller, o.id, "deliver")
    market.act(market.buyer, o.id, "confirm")
    with market.store.read() as s:
        for user in (market.buyer, market.seller):
            history = credit.history(s, user.id)
            assert any(
                (e.source, e.reason) == (f"order:{o.id}", f"completed order #{o.id}")
                and e.delta > 0
                for e in history
            ), history


def _pay_many(market, order_ids):
    with market.store.write() as s:
        buyer = s.get(User, market.buyer.id)
        return orders.pay_many(s, market.clock, SETTINGS, buyer, order_ids)


def test_a_batch_checks_each_payment_against_the_ones_before_it(store, clock):
    market = Market(store, clock, kind=Kind.goods, quantity=3, price=30000)
    dear = make_listing(store, clock, market.seller, price=20000, quantity=5)
    ids = [market.order().id for _ in range(4)]
    with store.write() as s:
        buyer = s.get(User, market.buyer.id)
        ids.append(orders.create_order(s, clock, buyer, dear.id).id)
    for order_id in ids:
        market.act(market.seller, order_id, "accept")
    first, *_, last = ids
    results = _pay_many(market, [*ids, first, 999_999])
    assert [getattr(r, "status", None) or r.code for r in results] == [
        "paid",
        "paid",
        "paid",
        "sold_out",  # three items, the fourth order finds none left
        "insufficient_funds",  # 10,000 left after three payments of 30,000
        "paid",  # the same order again: its key replays
        "unknown_order",
    ]
    assert results[5].replayed and not results[0].replayed
    assert market.balances() == (10000, 0, 90000)
    with store.read() as s:
        listing = s.get(Listing, market.listing.id)
        assert (listing.quantity, listing.status) == (0, ListingStatus.sold_out)
        assert s.get(Listing, dear.id).quantity == 5
        paid_events = s.exec(select(OrderEvent.order_id).where(OrderEvent.to_status == "paid"))
        assert sorted(paid_events) == ids[:3]
        assert audit.verify(s).ok
    statuses = [market.act(market.buyer, i, "pay").status for i in ids[:3]]
    assert statuses == ["paid"] * 3 and market.balances() == (10000, 0, 90000)
    with pytest.raises(Refused, match="Not enough money"):
        market.act(market.buyer, last, "pay")


def test_a_payment_reads_its_chain_heads_once_and_writes_each_chained_row_once(market):
    # CPU per payment (#18): the ledger entries and the order's event are appended together
    # (one read of the heads they move), each row inserted whole with its id and hash (no
    # UPDATE of a chained row after its INSERT), and the chains still verify.
    o = market.order()
    market.act(market.seller, o.id, "accept")
    sent = []

    def grab(_conn, _cursor, statement, *_):
        sent.append(" ".join(statement.split()).lower())

    event.listen(market.store.engine, "before_cursor_execute", grab)
    try:
        market.act(market.buyer, o.id, "pay")
    finally:
        event.remove(market.store.engine, "before_cursor_execute", grab)
    assert sum(s.startswith("select chain_head.") for s in sent) == 1
    assert [s.split("(")[0] for s in sent if s.startswith("insert into ")].count(
        "insert into entry "
    ) == 1
    assert not [s for s in sent if s.startswith(("update entry", "update orderevent"))]
    with market.store.read() as s:
        assert audit.verify(s).ok
