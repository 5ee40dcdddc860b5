"""Condition moves the band by a factor learned from completed sales (#17)."""

from __future__ import annotations

import math

import pytest

from p2pmarket.clock import DAY
from p2pmarket.market import Market
from p2pmarket.models import Condition, Unit
from p2pmarket.services.market import comparables, conditions, demo, pricing
from tests.conftest import make_goods, make_sale, make_user

HOME = (31.2290, 121.4480)
# Each thing's good price; like new, it sells for exactly twice that here.
BIKES = {"Road bike": 100_000, "Kids scooter": 30_000, "Child seat": 20_000}


def _sell(store, clock, seller, buyer, title, price, condition, category="bicycles"):
    listing = make_goods(store, clock, seller, title, price, category, condition=condition)
    make_sale(store, clock, listing, buyer, price)


@pytest.fixture
def bikes_sold(store, clock):
    """Per thing: two sold in good condition at its price, ten like new at twice it (30 votes
    for like new in bicycles, none for any other condition)."""
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    for title, price in BIKES.items():
        for _ in range(2):
            _sell(store, clock, seller, buyer, title, price, Condition.good)
        for _ in range(10):
            _sell(store, clock, seller, buyer, f"{title}, barely ridden", 2 * price, "like_new")
    with store.write() as session:
        conditions.learn(session, clock)
    return store


def _band(store, clock, title, condition, category="bicycles"):
    with store.read() as session:
        return pricing.suggest(
            session,
            clock,
            category=category,
            unit=Unit.item,
            lat=HOME[0],
            lon=HOME[1],
            title=title,
            condition=condition,
        )


def test_a_category_learns_its_factor_from_its_sales(bikes_sold, clock):
    with bikes_sold.read() as session:
        bikes = conditions.factors(session, "bicycles")
        chairs = conditions.factors(session, "furniture")

    assert bikes["like_new"] == conditions.Factor("like_new", 2.0, 30, "bicycles")
    assert bikes["like_new"].text() == "like new: ×2.00, learned from 30 sales"
    # A category with no sales of its own leans on the market's.
    assert chairs["like_new"] == conditions.Factor("like_new", 2.0, 30, conditions.MARKET)
    assert chairs["like_new"].text().endswith("learned from 30 sales across the market")
    # No condition but like new sold: the configured factors, said as such.
    assert bikes["fair"] == conditions.Factor("fair", 0.8, 0, None)
    assert bikes["fair"].text() == "fair: ×0.80 by default (no sales to learn from)"
    assert bikes["good"].value == 1.0 and bikes["good"].text() == "good: ×1.00"


def test_the_learned_factor_moves_the_band_and_is_shown(bikes_sold, clock):
    good = _band(bikes_sold, clock, "Road bike", Condition.good)
    like_new = _band(bikes_sold, clock, "Road bike", Condition.like_new)
    fair = _band(bikes_sold, clock, "Road bike", Condition.fair)

    # Every road bike, brought to good by the learned ×2.00, asked ¥1,000.
    assert (good.p25, good.p50, good.p75) == (100_000, 100_000, 100_000)
    assert (like_new.p25, like_new.p50, like_new.p75) == (200_000, 200_000, 200_000)
    assert like_new.basis.endswith("; like new: ×2.00, learned from 30 sales")
    assert (like_new.factor, like_new.factor_sales) == (2.0, 30)
    # The configured ×1.15 would have left the like-new ones dearer than good after it.
    assert fair.p50 == 80_000 and fair.basis.endswith(
        "; fair: ×0.80 by default (no sales to learn from)"
    )
    assert fair.factor_sales == 0


def test_too_few_sales_keep_the_configured_factor_and_say_how_many(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    _sell(store, clock, seller, buyer, "Road bike", 100_000, Condition.good)
    for _ in range(3):
        _sell(store, clock, seller, buyer, "Road bike", 300_000, Condition.new)
    with store.write() as session:
        conditions.learn(session, clock)

    got = _band(store, clock, "Road bike", Condition.new)

    assert got.factor == conditions.CONFIGURED["new"] and got.factor_sales == 0
    assert got.basis.endswith("; new: ×1.30 by default (3 sales, too few to learn from)")


def test_a_seeded_market_where_condition_matters_learns_it(store, clock):
    truth = {"new": 1.8, "like_new": 1.5, "good": 1.0, "fair": 0.6, "for_parts": 0.2}
    demo.seed_market(store, clock, users=80, listings=4000, seed=3, sales=2000, factors=truth)
    with store.write() as session:
        conditions.learn(session, clock)
    with store.read() as session:
        learned = conditions.factors(session, "bicycles")

    for condition, factor in truth.items():
        got = learned[condition]
        assert abs(math.log(got.value / factor)) < 0.2, (condition, got)
        assert condition == "good" or got.sales >= conditions.LEARN_MIN
    # Far from the configured factors: a like-new item's band is moved by what sold.
    assert abs(math.log(learned["like_new"].value / conditions.CONFIGURED["like_new"])) > 0.1
    with store.read() as session:
        bands = {
            c: pricing.suggest(
                session,
                clock,
                category="bicycles",
                unit=Unit.item,
                lat=HOME[0],
                lon=HOME[1],
                title="Road bike",
                condition=c,
            )
            for c in ("good", "like_new", "for_parts")
        }
    assert bands["good"].against is not None
    like_new, parts = bands["like_new"], bands["for_parts"]
    assert like_new.p50 == pytest.approx(bands["good"].p50 * learned["like_new"].value, rel=0.1)
    # Learned ×0.2, not the configured ×0.35 (comparables in its own condition weigh more).
    assert parts.p50 < bands["good"].p50 * 0.3
    assert "learned from" in like_new.basis and "learned from" in parts.basis


def test_the_tick_learns_once_a_day(bikes_sold, clock):
    market = Market(bikes_sold, clock)
    with bikes_sold.read() as session:
        assert not conditions.due(session, clock)
    clock.advance(DAY)
    with bikes_sold.read() as session:
        assert conditions.due(session, clock)

    market.tick()

    with bikes_sold.read() as session:
        assert not conditions.due(session, clock)
        assert conditions.factors(session, "bicycles")["like_new"].sales == 30


def test_the_thing_is_named_by_the_first_part_of_the_title():
    assert comparables.thing("Road bike, barely ridden") == ("road", "bike")
    assert comparables.thing("Road bike") == comparables.thing("road BIKE - like new")
    assert comparables.thing("公路车 九成新") == ("公路", "路车")
    assert comparables.thing("!!!") == ()
