"""Rentals on a real store: a camera rented by the day with a deposit — the period and
its claimed days, rent and deposit as two escrow postings, handover, return, the claim
window, the claim and its answer, late days, mediation — time moved by a fixed clock
(Sunday 2026-11-01 17:00 in Shanghai)."""

from datetime import date

import pytest
from sqlmodel import col, select

from p2pmarket.clock import DAY, HOUR
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Kind, RentalClaim, Role, Transfer, Unit, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.records import audit
from tests.conftest import DISPUTE, make_listing, make_user

SETTINGS = Settings()
RENT, DEPOSIT = 15000, 30000


def make_camera(store, clock, owner: User, **kw):
    """A camera rented by the day: ¥150 a day, ¥300 deposit (or as `kw` says)."""
    fields = {"title": "Sony A7 III", "price": RENT, "deposit": DEPOSIT, **kw}
    return make_listing(
        store,
        clock,
        owner,
        kind=Kind.goods,
        category="cameras",
        unit=Unit.day,
        quantity=1,
        **fields,
    )


class Rentals:
    """An owner with a camera (¥150 a day, ¥300 deposit), a renter with money, a mediator."""

    def __init__(self, store, clock):
        self.store, self.clock = store, clock
        self.owner = make_user(store, clock, "gao", verified=True)
        self.renter = make_user(store, clock, "bob", verified=True)
        self.other = make_user(store, clock, "amy", verified=True)
        self.mediator = make_user(store, clock, "mei", role=Role.mediator, verified=True)
        self.camera = make_camera(store, clock, self.owner).id
        for who in (self.renter, self.other):
            with store.write() as s:
                ledger.topup(s, clock, who.id, 500_000, f"fund-{who.id}")

    def rent(self, first="2026-11-05", back="2026-11-07", who=None):
        with self.store.write() as s:
            renter = s.get(User, (who or self.renter).id)
            return orders.rent_item(
                s,
                self.clock,
                SETTINGS,
                renter,
                self.camera,
                date.fromisoformat(first),
                date.fromisoformat(back),
            )

    def act(self, who, order_id, action, **kw):
        with self.store.write() as s:
            return orders.act(s, self.clock, SETTINGS, s.get(User, who.id), order_id, action, **kw)

    def paid(self, first="2026-11-05", back="2026-11-07"):
        o = self.rent(first, back)
        self.act(self.owner, o.id, "accept")
        return self.act(self.renter, o.id, "pay")

    def returned(self):
        """Paid, handed over on its first day, back on its return day."""
        o = self.paid()
        self.clock.set(o.slot_start)
        self.act(self.owner, o.id, "handover")
        self.clock.set(o.slot_end + 10 * HOUR)
        return self.act(self.owner, o.id, "return")

    def tick(self):
        with self.store.write() as s:
            return orders.tick(s, self.clock, SETTINGS)

    def order(self, order_id):
        with self.store.read() as s:
            return orders.get_order(s, s.get(User, self.owner.id), order_id)

    def balance(self, who):
        with self.store.read() as s:
            return ledger.balance(s, who.id)

    def escrow(self, order_id):
        with self.store.read() as s:
            return ledger.escrow(s, order_id).balance

    def clean(self):
        with self.store.read() as s:
            return audit.verify(s, pages=False).problems == []


@pytest.fixture
def market(store, clock):
    return Rentals(store, clock)


def test_a_rental_costs_rent_per_day_plus_the_deposit_and_holds_its_days(market):
    o = market.rent("2026-11-05", "2026-11-08")
    assert (o.quantity, o.unit_price, o.deposit) == (3, RENT, DEPOSIT)
    assert o.amount == 3 * RENT + DEPOSIT
    with market.store.read() as s:
        days = s.exec(select(RentalClaim.day).where(RentalClaim.order_id == o.id)).all()
    assert sorted(days) == [availability.day_number(date(2026, 11, d)) for d in (5, 6, 7)]
    with pytest.raises(Refused, match="is rented on 2026-11-07"):
        market.rent("2026-11-07", "2026-11-09", who=market.other)
    # The return day is not rented: the next renter may start on it.
    assert market.rent("2026-11-08", "2026-11-09", who=market.other).amount == RENT + DEPOSIT


@pytest.mark.parametrize(
    ("first", "back", "error", "words"),
    [
        ("2026-10-30", "2026-11-02", Refused, "has passed"),
        ("2026-11-05", "2026-11-05", Invalid, "comes after the first day"),
        ("2026-11-05", "2027-03-01", Invalid, "at most 90 days"),
    ],
)
def test_a_period_must_make_sense(market, first, back, error, words):
    with pytest.raises(error, match=words):
        market.rent(first, back)


def test_goods_by_the_day_need_a_period_and_only_they_take_one(market, store, clock):
    with store.write() as s, pytest.raises(Refused, match="rented by the day: pick the days"):
        orders.create_order(s, clock, s.get(User, market.renter.id), market.camera)
    lesson = make_listing(store, clock, market.owner).id
    market.camera, camera = lesson, market.camera
    with pytest.raises(Refused, match="only goods by the day are rented"):
        market.rent()
    market.camera = camera
    with pytest.raises(Invalid, match="deposit is for goods rented by the day"):
        make_listing(store, clock, market.owner, deposit=100)


def test_paying_posts_rent_and_deposit_as_two_transfers(market):
    o = market.paid()
    with market.store.read() as s:
        kinds = s.exec(
            select(Transfer.kind).where(Transfer.order_id == o.id).order_by(col(Transfer.id))
        ).all()
    assert kinds == ["pay", "deposit"]
    assert market.escrow(o.id) == 2 * RENT + DEPOSIT
    assert market.balance(market.renter) == 500_000 - 2 * RENT - DEPOSIT
    assert orders.deposit_state(market.order(o.id)) == "held"
    assert market.clean()


def test_a_wallet_short_of_rent_and_deposit_pays_neither(market, store, clock):
    poor = make_user(store, clock, "poor", verified=True)
    with store.write() as s:
        ledger.topup(s, clock, poor.id, 2 * RENT, "fund-poor")  # the rent, not the deposit
    o = market.rent(who=poor)
    market.act(market.owner, o.id, "accept")
    with pytest.raises(Refused, match="Not enough money"):
        market.act(poor, o.id, "pay")
    assert market.balance(poor) == 2 * RENT
    assert market.escrow(o.id) == 0


def test_return_releases_the_rent_and_the_deposit_comes_back_after_48_h(market):
    o = market.returned()
    assert o.status == "returned"
    assert market.balance(market.owner) == 2 * RENT
    assert market.escrow(o.id) == DEPOSIT
    assert market.clean()
    with market.store.read() as s:  # the camera is back: its days are free again
        assert availability.taken_days(s, market.camera, date(2026, 11, 5), date(2026, 11, 7)) == (
            set()
        )
    market.clock.advance(2 * DAY - 1)
    assert market.tick() == []
    market.clock.advance(1)
    assert market.tick() == [o.id]
    done = market.order(o.id)
    assert (done.status, orders.deposit_state(done)) == ("completed", "returned")
    assert market.balance(market.renter) == 500_000 - 2 * RENT
    assert market.escrow(o.id) == 0
    assert market.clean()


def test_the_owner_claims_once_never_above_the_deposit_and_with_a_reason(market):
    o = market.returned()
    with pytest.raises(Invalid, match="at most the deposit"):
        market.act(market.owner, o.id, "claim", claim=orders.Claim(DEPOSIT + 1, "lost"))
    with pytest.raises(Invalid, match="Say why you claim"):
        market.act(market.owner, o.id, "claim", claim=orders.Claim(10000, " "))
    with pytest.raises(Refused, match="Only the seller"):
        market.act(market.renter, o.id, "claim", claim=orders.Claim(10000, "x"))
    claimed = market.act(market.owner, o.id, "claim", claim=orders.Claim(12000, "scratched lens"))
    assert (claimed.status, claimed.claim_amount, claimed.claim_reason) == (
        "claimed",
        12000,
        "scratched lens",
    )
    assert orders.deposit_state(claimed) == "claimed ¥120.00"
    with pytest.raises(Refused, match="one claim per rental"):
        market.act(market.owner, o.id, "claim", claim=orders.Claim(100, "again"))
    done = market.act(market.renter, o.id, "accept-claim")
    assert (done.status, orders.deposit_state(done)) == ("completed", "paid out")
    assert market.balance(market.owner) == 2 * RENT + 12000
    assert market.balance(market.renter) == 500_000 - 2 * RENT - 12000
    assert market.clean()


def test_no_claim_after_the_claim_window(market):
    o = market.returned()
    market.clock.advance(2 * DAY)
    with pytest.raises(Refused, match="claim window closed"):
        market.act(market.owner, o.id, "claim", claim=orders.Claim(100, "late"))


def test_silence_accepts_a_claim_after_48_h(market):
    o = market.returned()
    market.act(market.owner, o.id, "claim", claim=orders.Claim(DEPOSIT, "lens broken"))
    market.clock.advance(2 * DAY)
    assert market.tick() == [o.id]
    assert market.order(o.id).status == "completed"
    assert market.balance(market.owner) == 2 * RENT + DEPOSIT
    assert market.escrow(o.id) == 0
    assert market.clean()


def test_a_disputed_claim_goes_to_the_mediator_who_splits_the_deposit(market):
    o = market.returned()
    market.act(market.owner, o.id, "claim", claim=orders.Claim(DEPOSIT, "lens broken"))
    disputed = market.act(market.renter, o.id, "dispute", opening=DISPUTE)
    assert (disputed.status, disputed.paused) == ("disputed", True)
    market.clock.advance(5 * DAY)
    assert market.tick() == []  # a dispute pauses the answer window
    with pytest.raises(Invalid, match=r"less than ¥300\.00"):
        market.act(market.mediator, o.id, "resolve", resolution="split", split=DEPOSIT)
    done = market.act(market.mediator, o.id, "resolve", resolution="split", split=10000)
    assert (done.status, orders.deposit_state(done)) == ("resolved", "split by the mediator")
    assert market.balance(market.owner) == 2 * RENT + 10000
    assert market.balance(market.renter) == 500_000 - 2 * RENT - 10000
    assert market.clean()


def test_a_late_return_lets_the_owner_claim_the_late_days(market):
    o = market.paid()
    market.act(market.owner, o.id, "handover")
    market.clock.set(o.slot_end + DAY - 1)
    assert "due back" not in market.order(o.id).countdowns(market.clock.now())
    market.clock.set(o.slot_end + DAY + 2 * HOUR)  # past the grace: two days late
    market.act(market.owner, o.id, "return")
    assert "2 days late: up to ¥300.00 claimable" in market.order(o.id).timeline[-1].note
    claimed = market.act(market.owner, o.id, "claim")
    assert (claimed.claim_amount, claimed.claim_reason) == (2 * RENT, "returned 2 days late")


def test_an_on_time_return_leaves_nothing_to_claim_by_default(market):
    o = market.returned()
    with pytest.raises(Invalid, match="Give the amount"):
        market.act(market.owner, o.id, "claim")


def test_rental_steps_fit_rentals_only(market, store, clock):
    o = market.paid()
    with pytest.raises(Refused, match="it is a rental: the owner hands it over"):
        market.act(market.owner, o.id, "deliver")
    with pytest.raises(Refused, match="it was not handed over yet"):
        market.act(market.owner, o.id, "return")
    with pytest.raises(Refused, match="Only the seller"):
        market.act(market.renter, o.id, "handover")
    assert orders.allowed_actions(market.order(o.id), "gao", "member") == [
        "cancel",
        "dispute",
        "handover",
    ]
    lesson = make_listing(store, clock, market.owner)
    with store.write() as s:
        plain = orders.create_order(s, clock, s.get(User, market.renter.id), lesson.id)
    with pytest.raises(Refused, match="it is not a rental"):
        market.act(market.owner, plain.id, "handover")


def test_cancelling_a_paid_rental_early_is_free_late_costs_half_the_rent(market):
    early = market.paid()
    market.act(market.renter, early.id, "revoke")
    assert market.balance(market.renter) == 500_000
    late = market.paid("2026-11-10", "2026-11-12")
    market.clock.set(late.slot_start - HOUR)
    market.act(market.renter, late.id, "revoke")
    fee = 2 * RENT * SETTINGS.late_cancel_percent // 100
    assert market.balance(market.owner) == fee  # half the rent; the deposit comes back whole
    assert market.clean()


def test_an_unhanded_rental_is_refunded_after_its_period(market):
    o = market.paid()
    market.clock.set(o.slot_end + SETTINGS.booking_grace)
    assert market.tick() == [o.id]
    assert market.order(o.id).status == "refunded"
    assert market.balance(market.renter) == 500_000
    assert market.clean()
