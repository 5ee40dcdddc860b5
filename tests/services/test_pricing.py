"""Suggested prices: weighted band, the fallback ladder and its basis, verdicts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from p2pmarket.clock import DAY
from p2pmarket.errors import Invalid
from p2pmarket.models import Kind, Order, OrderStatus
from p2pmarket.services.market import catalog, pricing
from p2pmarket.store.sqlite import prices as sqlite_prices
from tests.conftest import make_listing, make_user

HOME = (31.2290, 121.4480)


def _suggest(store, clock, **kw):
    with store.read() as session:
        return pricing.category_band(
            session, clock, category="piano-lessons", unit="hour", lat=HOME[0], lon=HOME[1], **kw
        )


def test_no_data_is_the_category_guide(store, clock):
    got = _suggest(store, clock)
    prior = catalog.category("piano-lessons").prior["hour"]
    assert (got.p25, got.p50, got.p75) == (prior.p25, prior.p50, prior.p75)
    assert got.n == 0
    assert got.basis.startswith("category guide: too few nearby")


def test_thin_data_is_shrunk_towards_the_guide(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    for _ in range(3):
        make_listing(store, clock, seller, price=100_000)
    got = _suggest(store, clock)
    prior = catalog.category("piano-lessons").prior["hour"]
    assert got.n == 3
    assert prior.p50 < got.p50 < 100_000
    assert "category guide: too few nearby" in got.basis
    assert "3 nearby listings" in got.basis


def test_ladder_widens_radius_then_market(store, clock):
    near = make_user(store, clock, "near", lat=HOME[0] + 0.01, lon=HOME[1])  # ~1.1 km
    town = make_user(store, clock, "town", lat=HOME[0] + 0.05, lon=HOME[1])  # ~5.6 km
    far = make_user(store, clock, "far", lat=HOME[0] + 0.5, lon=HOME[1])  # ~56 km
    for i in range(10):
        make_listing(store, clock, far, price=10_000 + i * 100)
    got = _suggest(store, clock)
    assert got.radius_km is None and got.basis == "10 nearby listings across the market"
    for i in range(6):
        make_listing(store, clock, town, price=20_000 + i * 100)
    for i in range(4):
        make_listing(store, clock, near, price=20_000 + i * 100)
    got = _suggest(store, clock)
    assert got.radius_km == 10.0 and got.n == 10
    assert got.basis == "10 nearby listings within 10 km"
    for i in range(6):
        make_listing(store, clock, near, price=30_000 + i * 100)
    got = _suggest(store, clock)
    assert got.radius_km == 3.0 and got.n == 10 and got.listings == 10
    assert got.p25 <= got.p50 <= got.p75


def test_completed_orders_count_double_and_old_points_fade(store, clock, monkeypatch):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    views = [make_listing(store, clock, seller, price=10_000) for _ in range(10)]
    with store.write() as session:
        for v in views[:5]:
            session.add(
                Order(
                    listing_id=v.id,
                    title="t",
                    buyer_id=buyer.id,
                    seller_id=seller.id,
                    kind=Kind.skill,
                    quantity=1,
                    unit_price=50_000,
                    amount=50_000,
                    status=OrderStatus.completed,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    got = _suggest(store, clock)
    assert got.sales == 5 and got.listings == 10 and got.n == 15
    # 5 sales × 2 = weight 10 against 10 listings × 1: the median sits on the boundary.
    assert got.p75 == 50_000
    # Sales are read from the orders (fewer than box listings, as here) or from the box.
    monkeypatch.setattr(sqlite_prices, "_few_completed", lambda raw, bound: False)
    assert _suggest(store, clock) == got
    monkeypatch.undo()
    clock.advance(365 * DAY)
    aged = _suggest(store, clock)
    # Sales and listings a year old fade alike: the median stays on the boundary.
    assert (aged.p25, aged.p50, aged.p75) == (10_000, 10_000, 50_000)
    # Faded, they weigh less than three fresh listings (unfaded, 50_000 would be the median).
    for _ in range(3):
        make_listing(store, clock, seller, price=90_000)
    assert _suggest(store, clock).p50 == 90_000


def test_a_batch_of_bands_equals_the_bands_one_by_one(store, clock):
    # Pairs at every rung of the ladder: sampled (cap 30) in 3 km, 10 km, market, guides.
    offers = {
        ("piano-lessons", "hour"): [(0.005, 40), (0.05, 3)],
        ("piano-lessons", "session"): [(0.05, 11)],
        ("guitar-lessons", "hour"): [(0.01, 2), (0.5, 9)],
        ("coding-help", "hour"): [(0.02, 4)],
    }
    for n, ((category, unit), places) in enumerate(offers.items()):
        for k, (dlat, count) in enumerate(places):
            seller = make_user(store, clock, f"s{n}{k}", lat=HOME[0] + dlat, lon=HOME[1])
            for i in range(count):
                make_listing(
                    store, clock, seller, category=category, unit=unit, price=9_000 + 700 * i + n
                )
    pairs = [*offers, ("tailoring", "hour")]
    with store.read() as session:
        one_by_one = {
            (c, u): pricing.category_band(
                session, clock, category=c, unit=u, lat=HOME[0], lon=HOME[1], cap=30
            )
            for c, u in pairs
        }
        batch = pricing.suggest_many(session, clock, pairs, lat=HOME[0], lon=HOME[1], cap=30)
    assert batch == one_by_one
    assert batch[("piano-lessons", "hour")].listings < 40  # sampled
    assert {b.radius_km for b in batch.values()} == {3.0, 10.0, None}
    assert sum(b.basis.startswith("category guide") for b in batch.values()) == 2


def test_weighted_quantiles():
    assert pricing.weighted_quantiles([(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0)]) == [1, 2, 3]
    assert pricing.weighted_quantiles([(1, 1.0), (100, 9.0)]) == [100, 100, 100]


@pytest.mark.parametrize(
    ("price", "verdict"), [(50, "low"), (100, "fair"), (200, "fair"), (300, "fair"), (400, "high")]
)
def test_verdict(price, verdict):
    band = pricing.Suggestion("furniture", "item", 100, 200, 300, 5, 0, 5, 3.0, "b", "5 chairs")
    assert pricing.verdict(price, band) == verdict
    # Without comparables a category's range judges nothing.
    assert pricing.verdict(price, replace(band, against=None)) is None


def test_unit_must_fit_category(store, clock):
    with store.read() as session, pytest.raises(Invalid):
        pricing.suggest(session, clock, category="piano-lessons", unit="day", lat=0, lon=0)


@pytest.mark.sqlite_only  # the band cache keys on SQLite's data_version; PostgreSQL isn't cached
def test_listing_bands_are_reused_until_the_store_changes(store, clock, monkeypatch):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    views = [make_listing(store, clock, seller, title="Piano lessons", price=10_000)]
    views += [make_listing(store, clock, seller, title="Piano lessons") for _ in range(5)]
    reads = []
    real = pricing.suggest
    monkeypatch.setattr(pricing, "suggest", lambda s, c, **kw: reads.append(kw) or real(s, c, **kw))

    def bands(*ids):
        with store.read() as session:
            return pricing.suggest_listings(session, clock, ids, lat=HOME[0], lon=HOME[1])

    first = bands(views[0].id)[views[0].id]
    assert first.against and first.n == 5  # the listing does not vote on itself
    assert bands(views[0].id)[views[0].id] == first and len(reads) == 1
    both = bands(views[1].id, views[0].id)
    assert both[views[0].id] == first and len(reads) == 2
    for _ in range(5):
        make_listing(store, clock, seller, title="Piano lessons", price=30_000)  # a commit
    after = bands(views[0].id)[views[0].id]
    assert len(reads) == 3 and after.n == 10 and after.p75 > first.p75


def test_a_band_from_few_prices_is_spread_wider_but_never_past_them():
    from p2pmarket.services.market.pricing import predicted, weighted_quantiles

    few = [(100, 1.0), (120, 1.0), (150, 1.0), (400, 1.0)]
    p10, p25, p50, p75, p90 = predicted(few)
    raw = weighted_quantiles(few, (0.1, 0.25, 0.5, 0.75, 0.9))
    assert p50 == raw[2] and p25 <= raw[1] and p75 >= raw[3]
    assert 100 <= p10 <= p25 < p75 <= p90 <= 400
    many = [(100 + i, 1.0) for i in range(400)]
    # Many prices: the spread is small (1 + 1/20) and the band barely moves.
    spread, read = predicted(many), weighted_quantiles(many, (0.1, 0.25, 0.5, 0.75, 0.9))
    assert all(abs(a - b) <= 0.05 * b for a, b in zip(spread, read, strict=True))
