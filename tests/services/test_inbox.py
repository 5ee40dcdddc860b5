"""Saved searches find what search finds: the lazy look over new listings agrees with the
index search restricted to those listings."""

import pytest

from p2pmarket.models import Kind, Unit, User
from p2pmarket.services.market import catalog, search
from tests.conftest import make_listing, make_user

PLACES = ("jingan", "xujiahui", "lujiazui")
TITLES = ("Piano stool", "Upright piano", "City bike", "Piano lessons for kids", "钢琴 凳子")


@pytest.fixture
def market(store, clock):
    me = make_user(store, clock, "amy")
    sellers = []
    for i, slug in enumerate(PLACES):
        place = catalog.area(slug)
        sellers.append(
            make_user(
                store,
                clock,
                f"seller{i}",
                lat=place.lat,
                lon=place.lon,
                public=(place.lat, place.lon),
            )
        )
    return me, sellers


@pytest.mark.parametrize(
    "query",
    [
        search.Query(text="pian", radius_km=5),
        search.Query(text="piano", radius_km=50, max_price=50_000),
        search.Query(text="", radius_km=3, kind=Kind.goods),
        search.Query(text="钢琴", radius_km=50),
        search.Query(text="bike", radius_km=50, category="bicycles"),
    ],
)
def test_saved_search_hits_equal_search_over_the_new_listings(store, clock, market, query):
    me, sellers = market
    place = catalog.area("jingan")
    query = search.Query(**{**vars(query), "lat": place.lat, "lon": place.lon, "page_size": 100})
    before = make_listing(store, clock, sellers[0], title="Old piano").id
    for i, title in enumerate(TITLES * 2):
        goods = i % 2 == 0 or "bike" in title
        make_listing(
            store,
            clock,
            sellers[i % len(sellers)],
            title=title,
            kind=Kind.goods if goods else Kind.skill,
            category="bicycles"
            if "bike" in title
            else "musical-instruments"
            if goods
            else "piano-lessons",
            unit=Unit.item if goods else Unit.hour,
            price=10_000 * (i + 1),
        )
    with store.read() as s:
        amy = s.get(User, me.id)
        [lazy], last = search.find_new(s, amy, [(query, before)])
        found, _ = search.find(s, amy, query)
    assert last == before + len(TITLES) * 2
    assert sorted(c.id for c in lazy) == sorted(c.id for c in found if c.id > before)
    assert lazy or not found
