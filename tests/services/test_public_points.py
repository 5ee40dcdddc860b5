"""Privacy of place: probing searches find where others see a seller, never their home.

The attack is the one that located dating-app users from "distance away": walk toward
the seller, bisect where the rounded distance steps from ~0.2 km to ~0.3 km on three
rays, and fit the circle through those three points. Against listings at home it
finds home to the metre; here it must find the public point and stay >= 250 m off.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlmodel import select

from p2pmarket import config as config_mod
from p2pmarket import geo
from p2pmarket.models import Listing, Unit, User
from p2pmarket.services.market import demo, pricing, search
from p2pmarket.services.trust import privacy
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION
from tests.conftest import make_listing, make_user

HOME = (31.2290, 121.4480)
M_PER_DEG = math.pi * geo.EARTH_M / 180
BOUNDARY_KM = 0.2  # shown "~0.2 km" up to 0.25 km, "~0.3 km" beyond
FIXTURES = Path(__file__).parent.parent / "fixtures"


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geo.haversine_km(*a, *b) * 1000


class Prober:
    """The attacker: `search --near LAT,LON` through the service the CLI calls, counted."""

    def __init__(self, store, clock, me: User, listing_id: int, budget: int) -> None:
        self.store, self.clock, self.me_id = store, clock, me.id
        self.listing_id, self.budget, self.calls = listing_id, budget, 0

    def __call__(self, point: tuple[float, float]) -> float:
        """The distance the search shows for the seller's listing from `point` (km)."""
        self.calls += 1
        assert self.calls <= self.budget, "the attack overran its budget of probes"
        query = search.Query(
            text="piano", lat=point[0], lon=point[1], radius_km=50, sort=search.Sort.nearest
        )
        with self.store.read() as session:
            results = search.search(session, self.clock, session.get(User, self.me_id), query)
        (hit,) = [h for h in results.hits if h.id == self.listing_id]
        return hit.distance_km


def _walk_toward(probe: Prober, start: tuple[float, float]) -> tuple[float, float]:
    """Compass steps toward the smallest shown distance until it shows ~0.2 km or less."""
    here, shown = start, probe(start)
    step_m = shown * 1000
    for _ in range(40):
        if shown <= BOUNDARY_KM:
            return here
        tries = [geo.moved(*here, math.radians(45 * k), step_m) for k in range(8)]
        best, there = min((probe(p), p) for p in tries)
        if best < shown:
            here, shown = there, best
        else:
            step_m /= 2
    raise AssertionError("the walk never came within ~0.2 km")


def _boundary(probe: Prober, inside: tuple[float, float], bearing: float) -> tuple[float, float]:
    """Bisect along a ray for the point where ~0.2 km turns into ~0.3 km."""
    lo, hi = 0.0, 600.0  # metres: inside 0.25 km at 0; at least 0.35 km away at 600 m
    for _ in range(32):
        mid = (lo + hi) / 2
        if probe(geo.moved(*inside, bearing, mid)) <= BOUNDARY_KM:
            lo = mid
        else:
            hi = mid
    return geo.moved(*inside, bearing, lo)


def _circle_centre(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The centre of the circle through three points (local east/north metres)."""
    lat0, lon0 = points[0]
    east = M_PER_DEG * math.cos(math.radians(lat0))
    (ax, ay), (bx, by), (cx, cy) = [
        ((lon - lon0) * east, (lat - lat0) * M_PER_DEG) for lat, lon in points
    ]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    x = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    y = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return lat0 + y / M_PER_DEG, lon0 + x / east


def _trilaterate(probe: Prober, start: tuple[float, float]) -> tuple[float, float]:
    inside = _walk_toward(probe, start)
    rays = [_boundary(probe, inside, math.radians(a)) for a in (10, 130, 250)]
    return _circle_centre(rays)


def test_rounding_boundary_trilateration_finds_the_public_point_not_home(store, clock):
    seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
    listing = make_listing(store, clock, seller)
    attacker = make_user(store, clock, "attacker", lat=31.30, lon=121.50)
    seen = (seller.public_lat, seller.public_lon)
    probe = Prober(store, clock, attacker, listing.id, budget=1000)
    # Five attacks from points of the attacker's choice, 1-3 km away on every side.
    starts = [
        geo.moved(*HOME, math.radians(b), 1000 + 400 * i) for i, b in enumerate(range(0, 360, 72))
    ]
    estimates = [_trilaterate(probe, s) for s in starts]
    assert probe.calls <= 1000
    # The attack works: each estimate is on the listing's point to the metre...
    assert all(_metres(e, seen) < 1.0 for e in estimates), [_metres(e, seen) for e in estimates]
    # ...and that point is where others see the seller, a fixed few hundred metres from
    # home, so neither one attack nor the mean of all of them comes within 250 m of home.
    mean = (
        sum(e[0] for e in estimates) / len(estimates),
        sum(e[1] for e in estimates) / len(estimates),
    )
    assert min(_metres(e, HOME) for e in [*estimates, mean]) >= 250
    assert geo.OFFSET_MIN_M - 1 <= _metres(seen, HOME) <= geo.OFFSET_MAX_M + 1


def test_the_public_point_is_drawn_once_and_survives_restarts(config, clock):
    store = Store.open(config)
    try:
        seller = make_user(store, clock, "seller", lat=HOME[0], lon=HOME[1])
        twin = make_user(store, clock, "twin", lat=HOME[0], lon=HOME[1])
        viewer = make_user(store, clock, "viewer", lat=31.24, lon=121.46)
        listing = make_listing(store, clock, seller)
        with store.read() as session:
            first = privacy.public_profile(session, viewer.id, seller.id).distance
    finally:
        store.close()
    seen = (seller.public_lat, seller.public_lon)
    # Drawn per person: two people at one home are seen at two places.
    assert _metres(seen, (twin.public_lat, twin.public_lon)) > 1
    assert geo.OFFSET_MIN_M - 1 <= _metres(seen, HOME) <= geo.OFFSET_MAX_M + 1
    for _ in range(2):
        store = Store.open(config)
        try:
            again = make_listing(store, clock, seller)
            with store.read() as session:
                row = session.get(User, seller.id)
                assert (row.public_lat, row.public_lon) == seen
                assert privacy.public_profile(session, viewer.id, seller.id).distance == first
                for lid in (listing.id, again.id):
                    placed = session.get(Listing, lid)
                    assert (placed.lat, placed.lon) == seen
        finally:
            store.close()


def test_profile_distance_is_from_the_public_point(store, clock):
    # Home 2.6 km away from the viewer, public point 3.0 km away: the profile says 3.0.
    viewer = make_user(store, clock, "viewer", lat=HOME[0], lon=HOME[1])
    other = make_user(
        store, clock, "other", lat=HOME[0] + 0.0234, lon=HOME[1], public=(HOME[0] + 0.027, HOME[1])
    )
    with store.read() as session:
        profile = privacy.public_profile(session, viewer.id, other.id)
    assert profile.distance == "~3.0 km"
    assert str(other.lat) not in str(profile.to_json())


def test_suggested_prices_weigh_listings_at_public_points(store, clock):
    # Home 2.8 km from the asker, but listings lie at the public point, 3.4 km away:
    # outside the 3 km rung, so the band comes from the 10 km one.
    seller = make_user(
        store, clock, "seller", lat=HOME[0] + 0.025, lon=HOME[1], public=(HOME[0] + 0.031, HOME[1])
    )
    for i in range(10):
        make_listing(store, clock, seller, price=20_000 + i * 100)
    with store.read() as session:
        got = pricing.category_band(
            session, clock, category="piano-lessons", unit=Unit.hour, lat=HOME[0], lon=HOME[1]
        )
    assert got.radius_km == 10.0 and got.n == 10


def test_seeded_listings_sit_at_public_points(store, clock):
    demo.seed_market(store, clock, users=30, listings=300, seed=3, area="jingan")
    with store.read() as session:
        people = {u.id: u for u in session.exec(select(User))}
        listings = session.exec(select(Listing)).all()
    assert len(listings) == 300
    for listing in listings:
        seller = people[listing.seller_id]
        assert (listing.lat, listing.lon) == (seller.public_lat, seller.public_lon)
    for person in people.values():
        home, seen = (person.lat, person.lon), (person.public_lat, person.public_lon)
        assert geo.OFFSET_MIN_M - 1 <= _metres(home, seen) <= geo.OFFSET_MAX_M + 1


def _homes_and_listings_at_home(path: Path) -> tuple[dict[int, tuple[float, float]], int]:
    raw = sqlite3.connect(path)
    homes = {uid: (lat, lon) for uid, lat, lon in raw.execute("SELECT id, lat, lon FROM user")}
    at_home = raw.execute(
        "SELECT count(*) FROM listing l JOIN user u ON u.id = l.seller_id"
        " WHERE l.lat = u.lat AND l.lon = u.lon"
    ).fetchone()[0]
    raw.close()
    return homes, at_home


def _opens_with_listings_at_public_points(home: Path) -> None:
    """Open an older store: everyone has a public point, listings and index moved there."""
    homes, at_home = _homes_and_listings_at_home(home / "market.db")
    assert at_home > 0  # older stores put every listing at its seller's home
    store = Store.open(config_mod.resolve(home=home))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.write() as session:
            search.catch_up(session)
        with store.read() as session:
            people = {u.id: u for u in session.exec(select(User))}
            listings = session.exec(select(Listing)).all()
        assert set(people) == set(homes)
        for person in people.values():
            seen = (person.public_lat, person.public_lon)
            assert geo.OFFSET_MIN_M - 1 <= _metres(homes[person.id], seen) <= geo.OFFSET_MAX_M + 1
        for listing in listings:
            seller = people[listing.seller_id]
            assert (listing.lat, listing.lon) == (seller.public_lat, seller.public_lon)
        # The index places them there too: a 50 m search at a seller's public point
        # finds their listings, one at their home finds none of them.
        seller = people[listings[0].seller_id]
        theirs = {x.id for x in listings if x.seller_id == seller.id and x.status == "active"}
        me = next(u for u in people.values() if u.id != seller.id)
        with store.read() as session:
            for (lat, lon), expected in (
                ((seller.public_lat, seller.public_lon), theirs),
                (homes[seller.id], set()),
            ):
                query = search.Query(lat=lat, lon=lon, radius_km=0.05, page_size=100)
                page, _more = search.find(session, me, query)
                assert {c.id for c in page if c.id in theirs} == expected
    finally:
        store.close()


@pytest.mark.sqlite_only
def test_the_v1_fixture_is_migrated_to_public_points(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v1.db", home / "market.db")
    _opens_with_listings_at_public_points(home)


@pytest.mark.sqlite_only
def test_a_v4_store_and_its_search_index_are_migrated_to_public_points(tmp_path):
    # A v4 store as it was: listings at their sellers' homes, no public points. Made from
    # the v5 fixture (a real store, its chains in their v5 form) by undoing v5's changes.
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v5.db", home / "market.db")
    raw = sqlite3.connect(home / "market.db")
    raw.execute(
        "UPDATE listing SET lat = (SELECT lat FROM user WHERE id = seller_id),"
        " lon = (SELECT lon FROM user WHERE id = seller_id)"
    )
    raw.execute("ALTER TABLE user DROP COLUMN public_lat")
    raw.execute("ALTER TABLE user DROP COLUMN public_lon")
    raw.execute("UPDATE schema_version SET version = 4")
    raw.commit()
    raw.close()
    _opens_with_listings_at_public_points(home)
