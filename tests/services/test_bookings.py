"""Bookings on a real store: weekly hours, free slots, claims that keep one seller's live
slots apart, the delivery deadline and late cancellation, reminders — time moved by a
fixed clock. The clock starts on Sunday 2026-11-01 17:00 in Shanghai (09:00 UTC)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from p2pmarket.clock import DAY, HOUR, MINUTE
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Kind, Listing, Order, SlotClaim, Unit, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import attention, ledger, orders
from p2pmarket.services.money.orders import slots
from p2pmarket.services.trust import credit
from tests.conftest import make_listing, make_user

SETTINGS = Settings()
ZONE = SETTINGS.zone


def at(text: str, zone: str = ZONE) -> int:
    return availability.parse_local(text, zone)


def wall(instant: int, zone: str = ZONE) -> str:
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).strftime("%a %m-%d %H:%M")


class Bookings:
    """A teacher with an hourly lesson and a walk by the session, a buyer with money."""

    def __init__(self, store, clock):
        self.store, self.clock = store, clock
        self.buyer = make_user(store, clock, "bob", verified=True)
        self.other = make_user(store, clock, "amy", verified=True)
        self.seller = make_user(store, clock, "lin", verified=True)
        self.lesson = make_listing(store, clock, self.seller, quantity=1).id
        self.walk = make_listing(
            store,
            clock,
            self.seller,
            kind=Kind.time,
            title="Dog walk",
            category="dog-walking",
            unit=Unit.session,
            price=8000,
        ).id
        for who in (self.buyer, self.other):
            with store.write() as s:
                ledger.topup(s, clock, who.id, 100_000, f"fund-{who.id}")

    def hours(self, listing_id, spec="mon-fri 09:00-12:00", **kw):
        with self.store.write() as s:
            return availability.set_hours(
                s, self.clock, s.get(User, self.seller.id), listing_id, spec, zone=ZONE, **kw
            )

    def free(self, listing_id, days=7, zone=ZONE):
        with self.store.read() as s:
            return availability.free_slots(s, self.clock, zone, listing_id, days=days)

    def book(self, listing_id, when, count=1, who=None):
        with self.store.write() as s:
            buyer = s.get(User, (who or self.buyer).id)
            return orders.book_slot(s, self.clock, SETTINGS, buyer, listing_id, at(when), count)

    def act(self, who, order_id, action):
        with self.store.write() as s:
            return orders.act(s, self.clock, SETTINGS, s.get(User, who.id), order_id, action)

    def paid(self, listing_id, when, count=1):
        o = self.book(listing_id, when, count)
        self.act(self.seller, o.id, "accept")
        return self.act(self.buyer, o.id, "pay")

    def balances(self):
        with self.store.read() as s:
            return ledger.balance(s, self.buyer.id), ledger.balance(s, self.seller.id)

    def claims(self):
        with self.store.read() as s:
            return len(s.exec(select(SlotClaim)).all())


def credit_score(session, user_id):
    return credit.scores(session, user_id).transaction


@pytest.fixture
def b(store, clock):
    return Bookings(store, clock)


def test_week_reads_runs_of_days_and_writes_them_back():
    week = availability.parse_week("mon-fri 09:00-18:00, sat 10:00-12:00 14:00-16:00")
    assert week[0] == [(540, 1080)] and week[4] == [(540, 1080)]
    assert week[5] == [(600, 720), (840, 960)] and 6 not in week
    assert availability.format_week(week) == "mon-fri 09:00-18:00, sat 10:00-12:00 14:00-16:00"


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("", "hours_empty"),
        ("monday 09:00-10:00", "hours_day"),
        ("fri-mon 09:00-10:00", "hours_day"),
        ("mon 10:00-09:00", "hours_format"),
        ("mon 09:00-25:00", "hours_format"),
        ("mon 09:03-10:00", "hours_format"),
        ("mon 09:00-12:00 11:00-13:00", "hours_overlap"),
        ("mon", "hours_format"),
    ],
)
def test_bad_hours_are_refused_with_a_reason_and_change_nothing(b, spec, code):
    with pytest.raises(Invalid) as err:
        b.hours(b.lesson, spec)
    assert err.value.code == code
    with pytest.raises(Refused, match="no hours"):
        b.free(b.lesson)


def test_only_the_seller_sets_hours_and_only_on_skills_and_time(b, store, clock):
    with store.write() as s, pytest.raises(Refused, match="another seller"):
        availability.set_hours(
            s, clock, s.get(User, b.buyer.id), b.lesson, "mon 09:00-10:00", zone=ZONE
        )
    bike = make_listing(
        store, clock, b.seller, kind=Kind.goods, title="Bike", category="bicycles", unit=Unit.item
    )
    with pytest.raises(Refused, match="only skills and time"):
        b.hours(bike.id)
    with pytest.raises(Invalid, match="60-minute"):
        b.hours(b.lesson, slot_minutes=45)


def test_free_slots_follow_hours_notice_window_and_days_off(b):
    b.hours(b.lesson, "mon-fri 09:00-12:00", notice_hours=0, window_days=30)
    first = b.free(b.lesson, days=2)
    # Sunday 17:00 now: Monday's three hours, Tuesday's open at 09:00 (48 h reach to 17:00).
    assert [wall(s.start) for s in first] == [
        "Mon 11-02 09:00",
        "Mon 11-02 10:00",
        "Mon 11-02 11:00",
        "Tue 11-03 09:00",
        "Tue 11-03 10:00",
        "Tue 11-03 11:00",
    ]
    assert all(s.end - s.start == HOUR for s in first)
    b.hours(b.lesson, "mon-fri 09:00-12:00", notice_hours=17, days_off=["2026-11-03"])
    assert [wall(s.start) for s in b.free(b.lesson, days=3)] == [
        "Mon 11-02 10:00",
        "Mon 11-02 11:00",
        "Wed 11-04 09:00",
        "Wed 11-04 10:00",
        "Wed 11-04 11:00",
    ]
    b.hours(b.lesson, "mon-fri 09:00-12:00", window_days=1)
    assert [wall(s.start) for s in b.free(b.lesson, days=7)] == [
        "Mon 11-02 09:00",
        "Mon 11-02 10:00",
        "Mon 11-02 11:00",
    ]


def test_a_session_has_its_own_length(b):
    b.hours(b.walk, "sat 08:00-10:00", slot_minutes=45)
    assert [wall(s.start) for s in b.free(b.walk)] == ["Sat 11-07 08:00", "Sat 11-07 08:45"]


def test_the_code_takes_a_zone_and_follows_its_daylight_moves(b, clock):
    # Berlin leaves summer time on 2026-10-25: 09:00 there is 07:00 UTC before, 08:00 after.
    clock.set(at("2026-10-23T12:00", "Europe/Berlin"))
    b.hours(b.lesson, "mon-fri 09:00-10:00")
    starts = [s.start for s in b.free(b.lesson, days=3, zone="Europe/Berlin")]
    utc = [datetime.fromtimestamp(t, ZoneInfo("UTC")).strftime("%m-%d %H:%M") for t in starts]
    assert utc == ["10-26 08:00"]
    clock.set(at("2026-10-22T12:00", "Europe/Berlin"))
    starts = [s.start for s in b.free(b.lesson, days=1, zone="Europe/Berlin")]
    assert [datetime.fromtimestamp(t, ZoneInfo("UTC")).hour for t in starts] == [7]


def test_a_booking_holds_its_slot_and_buffers_until_the_order_ends(b):
    b.hours(b.lesson, "mon 09:00-13:00", buffer_after=15)
    o = b.book(b.lesson, "2026-11-02T10:00")
    assert o.status == "requested" and o.amount == 15000
    assert (o.slot_start, o.slot_end) == (at("2026-11-02T10:00"), at("2026-11-02T11:00"))
    # 09:00 would end inside the 10:00 booking's time, 11:00 inside its 15-minute buffer.
    assert [wall(s.start) for s in b.free(b.lesson)] == ["Mon 11-02 12:00"]
    assert b.claims() == 15  # 75 minutes in 5-minute blocks
    for when in ("2026-11-02T10:00", "2026-11-02T11:00", "2026-11-02T09:00"):
        with pytest.raises(Refused, match="is taken") as err:
            b.book(b.lesson, when, who=b.other)
        assert err.value.code == "slot_taken"
    b.act(b.buyer, o.id, "cancel")
    assert b.claims() == 0
    assert len(b.free(b.lesson)) == 4
    assert b.book(b.lesson, "2026-11-02T11:00", who=b.other).status == "requested"


def test_two_listings_of_one_seller_share_the_sellers_time(b):
    b.hours(b.lesson, "mon 09:00-12:00")
    b.hours(b.walk, "mon 09:00-12:00", slot_minutes=30)
    b.book(b.lesson, "2026-11-02T09:00")
    with pytest.raises(Refused, match="is taken"):
        b.book(b.walk, "2026-11-02T09:30", who=b.other)
    assert [wall(s.start) for s in b.free(b.walk)][:2] == ["Mon 11-02 10:00", "Mon 11-02 10:30"]


def test_the_store_refuses_an_overlapping_claim_even_unchecked(b, store, clock):
    """The unique (seller, block) key holds when a writer skipped the check."""
    b.hours(b.lesson, "mon 09:00-12:00")
    first = b.book(b.lesson, "2026-11-02T10:00")
    with store.write() as s:
        hours = availability.hours_of(s, b.lesson, ZONE)
        order = Order(
            listing_id=b.lesson,
            title="x",
            buyer_id=b.other.id,
            seller_id=b.seller.id,
            kind=Kind.skill,
            quantity=1,
            unit_price=1,
            amount=1,
            created_at=clock.now(),
            updated_at=clock.now(),
            slot_start=at("2026-11-02T10:30"),
            slot_end=at("2026-11-02T11:30"),
        )
        s.add(order)
        s.flush()
        with pytest.raises(Refused, match="is taken"):
            slots.claim(s, order, hours)
    with store.read() as s:
        assert {c.order_id for c in s.exec(select(SlotClaim))} == {first.id}


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("2026-11-01T10:00", "slot_past"),
        ("2026-11-02T12:00", "slot_outside_hours"),
        ("2026-11-02T09:30", "slot_outside_hours"),
        ("2026-11-03T09:00", "slot_outside_hours"),
        ("2026-11-09T09:00", "slot_day_off"),
        ("2026-12-07T09:00", "slot_window"),
        ("2026-11-02T11:00", "slot_outside_hours"),  # two hours from 11:00 end after 12:00
    ],
)
def test_a_slot_outside_what_the_listing_offers_is_refused(b, when, code):
    b.hours(b.lesson, "mon 09:00-12:00", days_off=["2026-11-09"], window_days=30)
    with pytest.raises(Refused) as err:
        b.book(b.lesson, when, count=2)
    assert err.value.code == code
    assert b.claims() == 0


def test_notice_is_refused_with_the_earliest_time(b):
    b.hours(b.lesson, "mon-fri 09:00-12:00", notice_hours=24)
    with pytest.raises(Refused, match=r"needs 24 h notice: book 2026-11-02 17:00 \(UTC\+08:00\)"):
        b.book(b.lesson, "2026-11-02T09:00")


def test_a_listing_with_hours_needs_a_slot_and_one_without_takes_none(b, store):
    with pytest.raises(Refused, match="no hours"):
        b.book(b.lesson, "2026-11-02T09:00")
    b.hours(b.lesson)
    with store.write() as s, pytest.raises(Refused, match="pick a slot") as err:
        orders.create_order(s, b.clock, s.get(User, b.buyer.id), b.lesson)
    assert err.value.code == "needs_slot"


def test_hours_buy_consecutive_slots_without_taking_stock(b, store):
    b.hours(b.lesson, "mon 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-02T09:00", count=3)
    assert (o.quantity, o.amount, o.status) == (3, 45000, "paid")
    assert o.slot_end - o.slot_start == 3 * HOUR
    with store.read() as s:
        assert s.get(Listing, b.lesson).quantity == 1
    # Delivery is due at the slot's end plus the grace; the confirm window starts there.
    assert o.deliver_by == o.slot_end + SETTINGS.booking_grace
    b.clock.set(o.slot_start + 30 * MINUTE)
    delivered = b.act(b.seller, o.id, "deliver")
    assert delivered.confirm_by == o.slot_end + SETTINGS.confirm_window_service


def test_a_missed_booking_refunds_at_its_grace_and_frees_the_slot(b, store):
    b.hours(b.lesson, "mon 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-02T09:00")
    b.clock.set(o.deliver_by)
    with store.write() as s:
        assert orders.tick(s, b.clock, SETTINGS) == [o.id]
    assert b.balances() == (100_000, 0)
    assert b.claims() == 0


@pytest.mark.parametrize(
    ("before", "to_seller"),
    [(DAY + MINUTE, 0), (DAY, 7500), (HOUR, 7500), (1, 7500)],
)
def test_a_buyer_cancels_free_until_a_day_before_then_half_goes_to_the_seller(b, before, to_seller):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    b.clock.set(o.slot_start - before)
    done = b.act(b.buyer, o.id, "revoke")
    assert done.status == "refunded"
    assert b.balances() == (100_000 - to_seller, to_seller)
    assert b.claims() == 0
    with b.store.read() as s:
        note = orders.events(s, o.id)[-1].note
        assert ledger.totals(s).escrow == 0
    assert ("to the seller" in note) == bool(to_seller)


@pytest.mark.parametrize(("before", "costs"), [(DAY + MINUTE, False), (HOUR, True)])
def test_a_free_cancellation_costs_the_buyer_no_credit_a_late_one_does(b, before, costs):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    b.clock.set(o.slot_start - before)
    with b.store.read() as s:
        score = credit_score(s, b.buyer.id)
    b.act(b.buyer, o.id, "revoke")
    with b.store.read() as s:
        assert (credit_score(s, b.buyer.id) < score) == costs


def test_a_started_slot_cannot_be_cancelled(b):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    b.clock.set(o.slot_start)
    with pytest.raises(Refused, match="began at 2026-11-04 09:00") as err:
        b.act(b.buyer, o.id, "revoke")
    assert err.value.code == "slot_started"
    assert b.balances() == (100_000 - 15000, 0)


def test_reminders_come_24_h_and_1_h_before_to_both_sides(b, store):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    seen = {}
    for before in (DAY + 1, DAY, HOUR + 1, HOUR, 1, 0):
        b.clock.set(o.slot_start - before)
        for who in (b.buyer, b.seller):
            with store.read() as s:
                waiting = attention.my_open_orders(s, s.get(User, who.id))
            due = attention.reminders([w.order for w in waiting], b.clock.now())
            seen[(before, who.handle)] = [(r.order_id, r.which) for r in due]
    assert seen[(DAY + 1, "bob")] == seen[(DAY + 1, "lin")] == []
    assert seen[(DAY, "bob")] == seen[(DAY, "lin")] == [(o.id, "24 h")]
    assert seen[(HOUR + 1, "lin")] == [(o.id, "24 h")]
    assert seen[(HOUR, "bob")] == seen[(HOUR, "lin")] == [(o.id, "1 h")]
    assert seen[(1, "bob")] == [(o.id, "1 h")]
    assert seen[(0, "bob")] == seen[(0, "lin")] == []


def test_the_seller_cancels_a_paid_booking_refunding_all_at_a_credit_cost(b, store):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    with store.read() as s:
        before = credit_score(s, b.seller.id)
        actions = orders.allowed_actions(
            orders.get_order(s, s.get(User, b.seller.id), o.id), "lin", "member"
        )
    assert "cancel" in actions
    b.clock.set(o.slot_start - HOUR)
    done = b.act(b.seller, o.id, "cancel")
    assert (done.status, b.balances(), b.claims()) == ("refunded", (100_000, 0), 0)
    with store.read() as s:
        assert credit_score(s, b.seller.id) < before


def test_only_a_booked_slots_seller_cancels_a_paid_order(b, store, clock):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.paid(b.lesson, "2026-11-04T09:00")
    with pytest.raises(Refused, match="the buyer may revoke it"):
        b.act(b.buyer, o.id, "cancel")
    plain = make_listing(store, clock, b.seller, title="Sheet music", quantity=3)
    with store.write() as s:
        p = orders.create_order(s, clock, s.get(User, b.buyer.id), plain.id)
    b.act(b.seller, p.id, "accept")
    b.act(b.buyer, p.id, "pay")
    with pytest.raises(Refused, match="the buyer may revoke it"):
        b.act(b.seller, p.id, "cancel")
    with store.read() as s:
        view = orders.get_order(s, s.get(User, b.seller.id), p.id)
    assert "cancel" not in orders.allowed_actions(view, "lin", "member")


def test_paying_a_booking_says_what_cancelling_costs(b, store):
    b.hours(b.lesson, "mon-fri 09:00-12:00")
    o = b.book(b.lesson, "2026-11-04T09:00")
    b.act(b.seller, o.id, "accept")
    with store.read() as s:
        preview = orders.preview_payment(s, b.clock, SETTINGS, s.get(User, b.buyer.id), o.id)
    assert "free until 2026-11-03 09:00 (UTC+08:00)" in preview.warning
    assert "50% of the price goes to the seller" in preview.warning
    assert preview.revoke_window == o.slot_start - b.clock.now()
    # Paid inside the last day, no free moment is left to name: the fee is now.
    b.clock.set(o.slot_start - SETTINGS.free_cancel_before)
    with store.read() as s:
        preview = orders.preview_payment(s, b.clock, SETTINGS, s.get(User, b.buyer.id), o.id)
    assert "free until" not in preview.warning
    assert "cancelling from now on costs 50% of the price" in preview.warning
