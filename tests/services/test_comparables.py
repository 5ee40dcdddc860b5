"""Suggested prices that know what the item is: comparables by distinctive words (#17)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from p2pmarket.models import (
    Condition,
    Kind,
    Listing,
    ListingStatus,
    Order,
    OrderStatus,
    Unit,
    User,
)
from p2pmarket.services.market import catalog, comparables, conditions, demo, pricing, search
from p2pmarket.store.sqlite import prices as sqlite_prices
from tests.conftest import make_goods, make_sale, make_user

HOME = (31.2290, 121.4480)


def _band(store, clock, title, category="musical-instruments", *, at=HOME, unit=Unit.item, **kw):
    with store.read() as session:
        return pricing.suggest(
            session,
            clock,
            category=category,
            unit=unit,
            lat=at[0],
            lon=at[1],
            title=title,
            **kw,
        )


@pytest.fixture
def demo_market(store, clock):
    demo.load_demo(store, clock)
    with store.read() as session:
        me = session.exec(select(User).where(User.handle == "demo")).one()
    return store, (me.lat, me.lon)


def test_a_metronome_on_the_demo_market_is_priced_among_metronomes(demo_market, clock):
    store, home = demo_market
    pianos = catalog.category("musical-instruments").prior[Unit.item]

    got = _band(store, clock, "Wittner metronome", at=home)

    assert got.against is not None and "similar 'metronome'" in got.against
    assert got.n >= pricing.MIN_COMPARABLES and got.basis.startswith(got.against)
    # The demo's metronomes sell for ¥50-¥220; the category's guide starts at ¥500.
    assert 5_000 <= got.p25 <= got.p50 <= got.p75 <= 22_000 < pianos.p25
    # ¥60 is now a claim against metronomes, not "96% under" a piano's price.
    assert pricing.compare(6000, got).endswith(got.against)
    assert pricing.verdict(6000, got) in {"low", "fair"}


def test_an_office_chair_on_the_demo_market_is_priced_among_chairs(demo_market, clock):
    store, home = demo_market

    got = _band(store, clock, "Office chair", "furniture", at=home)

    assert "similar 'chair'" in got.basis and got.against
    # The demo's office chairs ask ¥200-¥1,200 (one Aeron, ¥4,500, is a chair too).
    assert 20_000 <= got.p50 <= 120_000
    assert pricing.verdict(35_000, got) == "fair"
    assert pricing.verdict(450_000, got) == "high"  # an Aeron's price, against office chairs


def test_an_item_with_no_comparables_says_so_and_claims_no_percentage(demo_market, clock):
    store, home = demo_market

    got = _band(store, clock, "Theremin", at=home)

    assert got.against is None and got.n == 0
    assert got.basis.startswith("no similar 'theremin' items yet; the category ranges ")
    assert pricing.compare(6000, got) is None and pricing.verdict(6000, got) is None
    # Its band is the category's, said as such.
    with store.read() as session:
        category = pricing.category_band(
            session, clock, category="musical-instruments", unit="item", lat=home[0], lon=home[1]
        )
    assert (got.p25, got.p50, got.p75) == (category.p25, category.p50, category.p75)


def test_too_few_comparables_name_how_many_and_fall_back(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    for price in (9000, 11000):
        make_goods(store, clock, seller, "Brass metronome", price)

    got = _band(store, clock, "Metronome")

    assert got.against is None and got.n == 0
    assert got.basis.startswith("only 2 similar 'metronome' items across the market;")
    assert "the category ranges" in got.basis


def test_rare_words_outweigh_common_ones(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    for i in range(12):
        make_goods(store, clock, seller, f"Yamaha digital piano {i}", 300_000 + i)
    for price in (8000, 9000, 10000, 12000):
        make_goods(store, clock, seller, "Mechanical metronome", price)

    got = _band(store, clock, "Yamaha metronome")

    # 'metronome' names the thing and is rare; 'yamaha' alone never makes a piano a metronome.
    assert got.n == 4 and got.p75 <= 12_000
    assert got.against == "4 similar 'metronome' listings within 3 km"


def test_chinese_titles_find_chinese_comparables(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    for price in (6000, 7000, 8000, 9000):
        make_goods(store, clock, seller, "机械节拍器 钢琴练习用", price)
    make_goods(store, clock, seller, "雅马哈电钢琴", 300_000)

    got = _band(store, clock, "二手节拍器")

    assert got.n == 4 and got.p75 <= 9000
    assert "similar '节拍'" in got.against or "similar '拍器'" in got.against


def test_completed_sales_count_double_and_are_named(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    for price in (10_000, 10_000, 10_000):
        make_goods(store, clock, seller, "Folding music stand", price)
    sold = make_goods(store, clock, seller, "Folding music stand", 30_000)
    make_sale(store, clock, sold, buyer, 30_000)

    got = _band(store, clock, "Music stand")

    assert (got.n, got.sales, got.listings) == (5, 1, 4)
    assert got.against == "5 similar 'stand' items (1 sold) within 3 km"
    # One sale (weight 2) and its listing (1) against three listings at ¥100: p75 is the
    # sale's (spread for so few prices, but never past the dearest: pricing.predicted).
    assert got.p75 == 30_000 and got.p25 == 10_000


def test_near_comparables_come_first(store, clock):
    near = make_user(store, clock, "near", lat=HOME[0] + 0.01, lon=HOME[1])
    far = make_user(store, clock, "far", lat=HOME[0] + 0.5, lon=HOME[1])
    for price in (50_000, 51_000, 52_000, 53_000, 54_000):
        make_goods(store, clock, far, "Cello bow", price)
    assert _band(store, clock, "Cello bow").radius_km is None
    for price in (20_000, 21_000, 22_000, 23_000):
        make_goods(store, clock, near, "Cello bow", price)

    got = _band(store, clock, "Cello bow")

    assert got.radius_km == 3.0 and got.p75 <= 23_000


def test_condition_moves_the_band_and_is_shown(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    for price in (10_000, 10_000, 10_000, 10_000):
        make_goods(store, clock, seller, "Violin case", price, condition=Condition.good)

    good = _band(store, clock, "Violin case", condition=Condition.good)
    new = _band(store, clock, "Violin case", condition=Condition.new)
    parts = _band(store, clock, "Violin case", condition="for_parts")

    assert good.p50 == 10_000 and good.basis.endswith("; good: ×1.00")
    assert new.p50 == round(10_000 * conditions.CONFIGURED["new"]) == 13_000
    # No sales to learn from: the configured factor, said as such.
    assert new.basis.endswith("; new: ×1.30 by default (no sales to learn from)")
    assert new.factor == 1.3 and new.factor_sales == 0
    assert parts.p50 == 3_500 and "for parts: ×0.35 by default" in parts.basis
    # Comparables in another condition are brought to good before the band is read.
    for _ in range(4):
        make_goods(store, clock, seller, "Violin case", 8_000, condition=Condition.fair)
    assert _band(store, clock, "Violin case", condition=Condition.good).p50 == 10_000


def test_head_word_names_the_thing():
    assert comparables.head("Wittner mechanical metronome, pyramid") == "metronome"
    assert comparables.head("Office chair with armrests") == "chair"
    assert comparables.head("Kids bike 16 inch with training wheels") == "bike"
    assert comparables.head("人体工学办公椅 可升降") == "公椅"
    assert comparables.head("!!!") is None


def test_search_rows_and_price_suggest_show_the_same_band(demo_market, clock):
    store, home = demo_market
    with store.read() as session:
        me = session.exec(select(User).where(User.handle == "demo")).one()
        query = search.Query(text="metronome", lat=home[0], lon=home[1], radius_km=30)
        found = search.search(session, clock, me, query)
        assert found.hits
        for hit in found.hits:
            band = pricing.suggest_listings(session, clock, [hit.id], lat=home[0], lon=home[1])
            listing = session.get(Listing, hit.id)
            alone = pricing.suggest(
                session,
                clock,
                category=listing.category,
                unit=listing.unit,
                lat=home[0],
                lon=home[1],
                title=listing.title,
                condition=listing.condition,
                exclude_listing=hit.id,
            )
            assert band[hit.id] == alone
            said = pricing.compare(hit.price, alone)
            assert (said is not None and hit.why.endswith(said)) or (
                said is None and "%" not in hit.why
            )


def test_seeded_markets_give_item_types_their_own_level_and_sell(store, clock):
    seeded = demo.seed_market(store, clock, users=40, listings=3000, seed=5, sales=200)
    with store.read() as session:
        sold = session.exec(select(Order).where(Order.status == OrderStatus.completed)).all()
        goods = session.exec(select(Listing).where(Listing.kind == Kind.goods)).all()
    assert seeded["sales"] == 200 and len(sold) == 200 and len({o.listing_id for o in sold}) == 200
    assert {g.condition for g in goods} == {str(c) for c in Condition}
    band = catalog.category("bicycles").prior[Unit.item]
    levels = {demo.type_level(band, "bicycles", i) for i in range(8)}
    assert len(levels) == 8 and max(levels) / min(levels) > 2


@pytest.mark.sqlite_only  # the bench market is a SQLite file of its own
def test_price_quality_beats_the_category_only_baseline(config, clock):
    from p2pmarket.bench import prices

    got = prices.price_quality(config, clock, listings=4000, sales=800, held_out=80)

    assert got["held_out"] == 80 and got["with_comparables_pct"] > 50
    ours, base = got["ours"], got["category_only"]
    assert ours["mdape_pct"] < 0.75 * base["mdape_pct"]
    assert 20 <= ours["inside_p25_p75_pct"] <= 80 and ours["inside_p10_p90_pct"] > 40


def _bikes(store, clock, seller, titles, unit=Unit.item, category="bicycles"):
    return [
        make_goods(store, clock, seller, title, 50_000, category, unit=unit) for title in titles
    ]


def test_items_of_the_word_in_another_category_or_unit_are_named_not_denied(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    _bikes(store, clock, seller, ["Road bike"] * 4)
    _bikes(store, clock, seller, ["Road bike"] * 2, unit=Unit.day)

    chair = _band(store, clock, "Bike", "furniture")
    by_item = _band(store, clock, "Road bike", "bicycles", unit=Unit.item)
    # Nothing of the word listed per hour of a lesson: both other places are named.
    lesson = _band(store, clock, "Bike", "piano-lessons", unit=Unit.hour)

    assert chair.basis.startswith(
        "no 'bike' items in furniture per item (4 in bicycles per item, 2 in bicycles per day);"
    )
    assert by_item.against is not None  # four road bikes per item are its comparables
    assert lesson.basis.startswith("no 'bike' items in piano-lessons per hour (4 in bicycles")
    assert chair.against is None and pricing.compare(50_000, chair) is None


def test_items_of_the_word_too_unlike_or_idle_say_why_they_are_not_used(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    kids = _bikes(store, clock, seller, ["Kids bike"] * 3)
    _bikes(store, clock, seller, ["Carbon racing helmet"], category="sports-equipment")

    unlike = _band(store, clock, "Carbon racing bike", "bicycles")

    assert unlike.basis.startswith(
        "3 'bike' items in bicycles per item, none sharing enough of this title's words;"
    )
    assert unlike.against is None and unlike.n == 0
    with store.write() as session:
        for view in kids[:2]:
            session.get(Listing, view.id).status = ListingStatus.paused

    idle = _band(store, clock, "Kids bike", "bicycles")
    mixed = _band(store, clock, "Carbon racing bike", "bicycles")

    # One kids' bike is still active: too few, said as before.
    assert idle.basis.startswith("only 1 similar 'bike' item across the market;")
    with store.write() as session:
        session.get(Listing, kids[2].id).status = ListingStatus.paused
    assert _band(store, clock, "Kids bike", "bicycles").basis.startswith(
        "3 'bike' items in bicycles per item, none active or sold;"
    )
    assert mixed.basis.startswith("3 'bike' items in bicycles per item, none sharing enough")


def _metronomes(store, clock, buyer):
    """Metronomes and other 'metronome' items near HOME and farther, some sold."""
    # Their listings lie 0.7 km apart north of HOME (never near a radius step's edge).
    at = [(HOME[0] + i * 0.006, HOME[1]) for i in range(12)]
    sellers = [
        make_user(store, clock, f"seller{i}", lat=lat, lon=lon, public=(lat, lon))
        for i, (lat, lon) in enumerate(at)
    ]
    titles = ["Wittner metronome", "Digital metronome, boxed", "Metronome", "Old metronome"]
    conditions_ = [Condition.new, Condition.like_new, Condition.good, Condition.fair]
    listings = [
        make_goods(
            store,
            clock,
            seller,
            titles[i % 4],
            10_000 + 700 * i,
            condition=conditions_[i % 4],
        )
        for i, seller in enumerate(sellers)
    ]
    for i, listing in enumerate(listings[::3]):
        make_sale(store, clock, listing, buyer, 9_000 + 500 * i)
    return listings


def _bands_read_per_item(store, clock, listings, monkeypatch, *, cap):
    """Each listing's own band, the store asked for it alone (no kept reads)."""
    real = sqlite_prices.SqlitePricePoints.memo
    with monkeypatch.context() as patched:
        patched.setattr(
            sqlite_prices.SqlitePricePoints,
            "memo",
            lambda self, session, name: (
                None if name == comparables._READS_KEY else real(self, session, name)
            ),
        )
        return [
            _band(store, clock, v.title, exclude_listing=v.id, condition=v.condition, cap=cap)
            for v in listings
        ]


@pytest.mark.sqlite_only  # reads are kept on SQLite (its data_version); PostgreSQL keeps none
@pytest.mark.parametrize("cap", [5, 200])
def test_a_word_read_once_prices_every_item_as_its_own_read_would(store, clock, monkeypatch, cap):
    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    listings = _metronomes(store, clock, buyer)
    reads = []
    real = sqlite_prices.SqlitePricePoints.alike
    monkeypatch.setattr(
        sqlite_prices.SqlitePricePoints,
        "alike",
        lambda self, *args: reads.append(args) or real(self, *args),
    )

    # cap 5: the store stops early, and whether an item's own listing was among the first
    # read decides which others it is compared with.
    kept = [
        _band(store, clock, v.title, exclude_listing=v.id, condition=v.condition, cap=cap)
        for v in listings
    ]
    shared = len(reads)
    alone = _bands_read_per_item(store, clock, listings, monkeypatch, cap=cap)

    assert kept == alone
    # Some compared within 3 km, some short of comparables up to the whole market.
    assert {band.against is None for band in kept} == {True, False}
    # One read per radius step for the word, not one per item and step.
    assert [args[6] for args in reads[:shared]] == list(pricing.RADII_KM)
    assert len(reads) - shared == 24  # alone: 12 items, 1 or 3 steps each


@pytest.mark.sqlite_only  # reads and bands are kept on SQLite only
def test_a_kept_band_is_never_stale_after_a_price_edit_or_a_sale(store, clock, monkeypatch):
    from p2pmarket.services.market import shops

    buyer = make_user(store, clock, "buyer", lat=HOME[0], lon=HOME[1])
    listings = _metronomes(store, clock, buyer)
    # 'Metronome' is compared with the metronomes within 3 km, 'Old metronome' among them.
    item, other = listings[2], listings[3]

    def band():
        with store.read() as session:
            return pricing.suggest_listings(session, clock, [item.id], lat=HOME[0], lon=HOME[1])[
                item.id
            ]

    first = band()
    assert first.against == "6 similar 'metronome' items (2 sold) within 3 km"
    assert band() == first  # kept
    with store.write() as session:
        seller = session.get(User, session.get(Listing, other.id).seller_id)
        shops.edit_listing(session, clock, seller, other.id, price=500)
    edited = band()
    assert edited.against == first.against and edited != first
    assert [edited] == _bands_read_per_item(store, clock, [item], monkeypatch, cap=200)
    make_sale(store, clock, other, buyer, 95_000)
    sold = band()
    assert sold.sales == edited.sales + 1 and sold.p90 > edited.p90
    assert [sold] == _bands_read_per_item(store, clock, [item], monkeypatch, cap=200)
