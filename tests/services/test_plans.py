"""Plans on hand-built markets: legs fitted in sequence with travel between places, the
budget, the credit floor, a leg nobody can fill explained, different sellers preferred,
and booking every leg or none. The clock starts on Sunday 2026-11-01 17:00 in Shanghai;
the wishes are for Saturday 2026-11-07."""

from __future__ import annotations

import math

import pytest
from sqlmodel import select

from p2pmarket.clock import MINUTE
from p2pmarket.config import Settings
from p2pmarket.errors import Refused
from p2pmarket.geo import moved
from p2pmarket.models import Kind, Order, OrderStatus, Plan, SlotClaim, Unit, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, orders, plans
from p2pmarket.services.money.plans import fitting
from tests.conftest import make_listing, make_user

SETTINGS = Settings()
ZONE = SETTINGS.zone
HOME = (31.2290, 121.4480)
DAY = "2026-11-07"
EAST = math.pi / 2


def at(clock_text: str) -> int:
    return availability.parse_local(f"{DAY}T{clock_text}", ZONE)


class Market:
    """A buyer at home in Jing'an with money; sellers placed at known distances east."""

    def __init__(self, store, clock):
        self.store, self.clock = store, clock
        self.buyer = make_user(store, clock, "bob", verified=True, lat=HOME[0], lon=HOME[1])
        with store.write() as s:
            ledger.topup(s, clock, self.buyer.id, 500_000, "fund-bob")
        self.sellers: dict[str, User] = {}

    def seller(self, handle: str, km: float) -> User:
        if handle not in self.sellers:
            self.sellers[handle] = make_user(
                self.store,
                self.clock,
                handle,
                verified=True,
                public=moved(*HOME, EAST, km * 1000),
            )
        return self.sellers[handle]

    def offer(
        self,
        handle: str,
        km: float,
        category: str,
        price: int,
        hours: str,
        *,
        kind=Kind.time,
        unit=Unit.hour,
        slot: int | None = None,
        buffer: int = 0,
    ) -> int:
        seller = self.seller(handle, km)
        listing = make_listing(
            self.store,
            self.clock,
            seller,
            kind=kind,
            title=f"{category} by {handle}",
            category=category,
            unit=unit,
            price=price,
        )
        with self.store.write() as s:
            availability.set_hours(
                s,
                self.clock,
                s.get(User, seller.id),
                listing.id,
                hours,
                zone=ZONE,
                slot_minutes=slot,
                buffer_after=buffer,
            )
        return listing.id

    def wish(self, legs: str, start="13:00", end="19:00", **kw) -> plans.Wish:
        return plans.make_wish(legs, DAY, start, end, zone=ZONE, **kw)

    def propose(self, legs: str, **kw) -> plans.Proposals:
        with self.store.write() as s:
            me = s.get(User, self.buyer.id)
            return plans.propose(s, self.clock, SETTINGS, me, self.wish(legs, **kw))

    def book(self, ref: int) -> plans.PlanView:
        with self.store.write() as s:
            return plans.book(s, self.clock, SETTINGS, s.get(User, self.buyer.id), ref)

    def show(self, ref: int) -> plans.PlanView:
        with self.store.read() as s:
            me = s.get(User, self.buyer.id)
            plan = plans.mine(s, me, ref)
            return plans.plan_view(s, self.clock, SETTINGS, me, plan, with_replacements=True)

    def orders(self) -> list[Order]:
        with self.store.read() as s:
            return list(s.exec(select(Order).order_by(Order.id)))


@pytest.fixture
def market(store, clock) -> Market:
    return Market(store, clock)


def afternoon(market: Market) -> dict[str, int]:
    """Two sitters, two cooking classes (90-minute sessions), one photographer."""
    return {
        "sit_near": market.offer("amy", 0.5, "babysitting", 6000, "sat 13:00-19:00"),
        "sit_cheap": market.offer("bea", 1.0, "babysitting", 5000, "sat 13:00-15:00"),
        "cook": market.offer(
            "cat",
            3.0,
            "cooking-class",
            20000,
            "sat 14:00-18:00",
            kind=Kind.skill,
            unit=Unit.session,
            slot=90,
        ),
        "cook_dear": market.offer(
            "dan",
            2.0,
            "cooking-class",
            30000,
            "sat 13:00-19:00",
            kind=Kind.skill,
            unit=Unit.session,
            slot=90,
        ),
        "photo": market.offer("eve", 2.5, "photography", 40000, "sat 15:00-19:00", kind=Kind.skill),
    }


def test_legs_fit_in_sequence_with_travel_cheapest_first(market):
    ids = afternoon(market)
    found = market.propose("babysitting, cooking-class, photography")
    assert found.unfilled == ()
    assert 1 <= len(found.plans) <= 5
    totals = [p.total for p in found.plans]
    assert totals == sorted(totals)
    best = found.plans[0]
    assert best.total == 5000 + 20000 + 40000
    assert {leg.listing_id for leg in best.legs} == {ids["sit_cheap"], ids["cook"], ids["photo"]}
    for before, after in zip(best.legs, best.legs[1:], strict=False):
        assert after.start >= before.end + after.travel_minutes * MINUTE
    assert best.legs[0].start >= at("13:00") + best.legs[0].travel_minutes * MINUTE
    assert best.legs[-1].end <= at("19:00")
    assert "¥650.00 in all" in best.why and "min travelling" in best.why
    assert "lowest credit 600" in best.why
    assert best.legs[0].where.endswith("from home")


def test_travel_time_between_places_is_respected(market):
    # Leaving home at 12:30, the sitter next door is free 13:00-14:00 only; the class 3 km
    # away starts on the hour: 14:00 can't be reached (3 km at 20 km/h is 10 minutes), so
    # the class is at 15:00.
    market.offer("amy", 0.0, "babysitting", 6000, "sat 13:00-14:00")
    market.offer(
        "cat", 3.0, "cooking-class", 20000, "sat 14:00-17:00", kind=Kind.skill, unit=Unit.hour
    )
    best = market.propose("babysitting, cooking-class", start="12:30", fixed_order=True).plans[0]
    sit, cook = best.legs
    assert (sit.at, cook.at) == ("13:00–14:00", "15:00–16:00")
    assert cook.travel_minutes == 10
    assert fitting.travel_seconds(*HOME, *moved(*HOME, EAST, 1200)) == 15 * MINUTE  # a walk
    # Nothing after 16:00 for the class: no plan, and the sentence says why.
    none = market.propose(
        "babysitting, cooking-class", start="12:30", end="15:30", fixed_order=True
    )
    assert none.plans == ()
    assert "don't fit one after another in the order given" in none.unfilled[0]


def test_budget_leaves_out_dearer_plans_and_says_the_cheapest(market):
    afternoon(market)
    found = market.propose("babysitting, cooking-class", budget="260", party=2)
    assert [p.total for p in found.plans] == [25000, 26000]
    assert found.plans[0].why.startswith("¥250.00 in all (a party of 2) · ")
    over = market.propose("babysitting, cooking-class", budget="200")
    assert over.plans == ()
    assert over.unfilled == (
        "The cheapest plan that fits costs ¥250.00, over the budget of ¥200.00.",
    )


def test_credit_floor_keeps_out_sellers_below_it(market, store):
    afternoon(market)
    with store.write() as s:
        s.get(User, market.sellers["bea"].id).pub_credit = False  # no credit shown
    found = market.propose("babysitting", min_credit=600)
    assert {leg.seller for p in found.plans for leg in p.legs} == {"amy"}
    high = market.propose("babysitting", min_credit=700)
    assert high.plans == ()
    assert high.unfilled[0].startswith(
        "1. No babysitting free 13:00–19:00 within 5 km has credit 700 or more "
        "(the best free one has 600)"
    )


def test_a_leg_nobody_can_fill_is_explained_with_the_nearest(market):
    afternoon(market)
    market.offer(
        "fay", 7.0, "haircut", 8000, "sat 13:00-19:00", kind=Kind.skill, unit=Unit.session, slot=30
    )
    found = market.propose("babysitting, haircut")
    assert found.plans == ()
    assert found.unfilled == (
        "2. No haircut within 5 km; the nearest one that would fit is ~7.0 km away.",
    )
    busy = market.propose("photography", start="13:00", end="15:00")
    assert busy.unfilled[0].startswith("1. No photography free 13:00–15:00 on 2026-11-07")


def test_different_sellers_are_preferred(market):
    # amy sits and cooks cheapest, but one neighbour for both legs comes after two.
    market.offer("amy", 0.5, "babysitting", 5000, "sat 13:00-19:00")
    market.offer("amy", 0.5, "cooking-class", 10000, "sat 13:00-19:00", kind=Kind.skill)
    market.offer("cat", 1.0, "cooking-class", 20000, "sat 13:00-19:00", kind=Kind.skill)
    found = market.propose("babysitting, cooking-class")
    first = found.plans[0]
    assert {leg.seller for leg in first.legs} == {"amy", "cat"}
    assert first.total == 25000
    assert any({leg.seller for leg in p.legs} == {"amy"} for p in found.plans[1:])


def test_booking_pays_every_leg_or_none(market, store):
    afternoon(market)
    market.propose("babysitting, cooking-class, photography")
    before = {o.id for o in market.orders()}
    # Someone else books the cheap sitter's slot first: the whole plan fails.
    best = market.show(1)
    sitter = next(leg for leg in best.legs if leg.wish == "babysitting")
    rival = make_user(store, market.clock, "rival", verified=True)
    with store.write() as s:
        orders.book_slot(
            s, market.clock, SETTINGS, s.get(User, rival.id), sitter.listing_id, sitter.start
        )
    with pytest.raises(Refused) as refused:
        market.book(1)
    assert refused.value.code == "plan_leg_gone"
    assert "was taken meanwhile. Nothing was booked or paid; propose again" in str(refused.value)
    assert [o.id for o in market.orders() if o.id not in before] == [max(before, default=0) + 1]
    with store.read() as s:
        assert ledger.balance(s, market.buyer.id) == 500_000
    # Proposed again, around the rival: booked, three paid orders, one escrow each.
    market.propose("babysitting, cooking-class, photography")
    booked = market.book(1)
    assert booked.status == "booked" and booked.number is None
    assert [leg.status for leg in booked.legs] == ["paid"] * 3
    with store.read() as s:
        assert ledger.balance(s, market.buyer.id) == 500_000 - booked.total
        assert s.exec(select(Plan).where(Plan.status == "proposed")).first() is None
    with pytest.raises(Refused, match="booked already"):
        market.book(booked.id)


def test_a_seller_cancelling_one_leg_leaves_the_others_and_offers_a_replacement(market, store):
    ids = afternoon(market)
    market.propose("babysitting, cooking-class")
    booked = market.book(1)
    cook = next(leg for leg in booked.legs if leg.wish == "cooking-class")
    assert cook.listing_id == ids["cook"]
    with store.write() as s:
        orders.act(
            s,
            market.clock,
            SETTINGS,
            s.get(User, market.sellers["cat"].id),
            cook.order_id,
            "cancel",
        )
    shown = market.show(booked.id)
    assert [leg.status for leg in shown.legs if leg.wish == "babysitting"] == ["paid"]
    assert cook.position in shown.replacements
    offered = shown.replacements[cook.position]
    assert [o.listing_id for o in offered] == [ids["cook_dear"]]
    with store.write() as s:
        me = s.get(User, market.buyer.id)
        after = plans.replace(s, market.clock, SETTINGS, me, booked.id, cook.position)
    assert [leg.status for leg in after.legs] == ["paid", "paid"]
    assert after.legs[cook.position - 1].listing_id == ids["cook_dear"]
    with store.read() as s:
        live = s.exec(select(SlotClaim.order_id).distinct()).all()
        assert sorted(live) == sorted(leg.order_id for leg in after.legs)
        statuses = [o.status for o in s.exec(select(Order).order_by(Order.id))]
    assert statuses.count(OrderStatus.refunded) == 1
