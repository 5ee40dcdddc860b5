"""Suggested prices: a weighted p25/p50/p75 band from nearby sales and listings.

Data points are completed orders (unit price, weight 2) and active listings (weight
1) of the same category and unit, each weighted by distance (1 at the centre, 1/2
at `scale`) and recency (half-life 90 days). With fewer than MIN_POINTS points the
radius widens (3 km, 10 km, the whole market); when even the whole market is thin
the band leans on the category guide in data/ (shrinkage: the guide counts as
PRIOR_WEIGHT points).

Speed: the store reads the points from a covering price index, never the listing table
(store/sqlite/prices.py, store/postgres/prices.py); the exact distance is checked here. A
search page needs the bands of many (category, unit) pairs: `suggest_many` reads them
together, once per ladder step, each pair equal to its own `suggest`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlmodel import Session

from p2pmarket.clock import DAY, Clock
from p2pmarket.errors import Invalid
from p2pmarket.geo import haversine_km
from p2pmarket.models import Unit
from p2pmarket.services.market import catalog
from p2pmarket.services.market.catalog import Band, Category
from p2pmarket.store import ports

MIN_POINTS = 10
RADII_KM: tuple[float | None, ...] = (3.0, 10.0, None)
HALF_LIFE_DAYS = 90
ORDER_WEIGHT = 2.0
LISTING_WEIGHT = 1.0
PRIOR_WEIGHT = 10.0
# Within a fair band, a little either side still counts as fair.
FAIR_SLACK = 0.05
# At most about this many listing points are read per suggestion (see _points).
SAMPLE_CAP = 1000


@dataclass(frozen=True)
class Suggestion:
    category: str
    unit: str
    p25: int
    p50: int
    p75: int
    n: int
    sales: int
    listings: int
    radius_km: float | None
    basis: str

    @property
    def band(self) -> Band:
        return Band(self.p25, self.p50, self.p75)

    def to_json(self) -> dict:
        return asdict(self)


def verdict(price: int, band: Band) -> str:
    """'low' under p25, 'high' over p75 (with a little slack), else 'fair'."""
    if price < band.p25 * (1 - FAIR_SLACK):
        return "low"
    if price > band.p75 * (1 + FAIR_SLACK):
        return "high"
    return "fair"


def weighted_quantiles(points: list[tuple[int, float]], qs=(0.25, 0.5, 0.75)) -> list[int]:
    """Weighted quantiles of (price, weight) points: the first price whose share reaches q."""
    ordered = sorted(points)
    total = sum(w for _, w in ordered)
    out, acc, i = [], 0.0, 0
    for q in qs:
        target = q * total
        while i < len(ordered) - 1 and acc + ordered[i][1] < target:
            acc += ordered[i][1]
            i += 1
        out.append(ordered[i][0])
    return out


Pair = tuple[str, str]


def _points_many(
    session: Session,
    now: int,
    pairs: list[Pair],
    lat: float,
    lon: float,
    radius_km: float | None,
    exclude: int | None,
    cap: int,
) -> list[tuple[list[tuple[int, float]], int, int]]:
    """(points, sales, listings) of each (category slug, unit) pair, in the pairs' order.

    The store reads the rows (store/ports.py PricePoints); the exact distance and the
    weights are computed here, the same for every store.
    """
    rows = ports.of(session).prices.rows(session, pairs, lat, lon, radius_km, exclude, cap)
    scale = (radius_km or 30.0) / 2
    decay = math.log(2) / (HALF_LIFE_DAYS * DAY)
    found = []
    for listing_rows, order_rows in rows:
        points: list[tuple[int, float]] = []
        counts = [0, 0]
        for which, read, base in ((0, listing_rows, LISTING_WEIGHT), (1, order_rows, ORDER_WEIGHT)):
            for price, at, plat, plon in read:
                km = haversine_km(lat, lon, plat, plon)
                if radius_km is not None and km > radius_km:
                    continue
                age = max(0, now - at)
                weight = base * math.exp(-decay * age) / (1 + (km / scale) ** 2)
                points.append((price, weight))
                counts[which] += 1
        found.append((points, counts[1], counts[0]))
    return found


def _radius_text(radius_km: float | None) -> str:
    return f"within {radius_km:g} km" if radius_km is not None else "across the market"


def suggest(
    session: Session,
    clock: Clock,
    *,
    category: str,
    unit: Unit | str,
    lat: float,
    lon: float,
    exclude_listing: int | None = None,
    cap: int = SAMPLE_CAP,
) -> Suggestion:
    """The suggested band for one category and unit around (lat, lon)."""
    (band,) = suggest_many(
        session,
        clock,
        [(category, unit)],
        lat=lat,
        lon=lon,
        exclude_listing=exclude_listing,
        cap=cap,
    ).values()
    return band


def _checked(category: str, unit: Unit | str) -> tuple[Category, Unit]:
    cat = catalog.category(category)
    try:
        unit = Unit(str(unit).strip().lower())
    except ValueError:
        raise Invalid(
            "unit_format", f"Unit {str(unit)[:20]!r} must be item, hour, session or day."
        ) from None
    if unit not in cat.units:
        allowed = ", ".join(cat.units)
        raise Invalid(
            "unit_not_allowed", f"Category {cat.slug} is priced per {allowed}, not per {unit}."
        )
    return cat, unit


def suggest_many(
    session: Session,
    clock: Clock,
    pairs: Iterable[tuple[str, Unit | str]],
    *,
    lat: float,
    lon: float,
    exclude_listing: int | None = None,
    cap: int = SAMPLE_CAP,
) -> dict[Pair, Suggestion]:
    """The band of each (category, unit) pair around (lat, lon), keyed as given.

    Each band is the one `suggest` gives for its pair (same ladder, sample and basis);
    the pairs still short of MIN_POINTS at a step are read together at the next.
    """
    checked = {(category, str(unit)): _checked(category, unit) for category, unit in pairs}
    now = clock.now()
    bands: dict[Pair, Suggestion] = {}
    todo = list(checked)
    found: list[tuple[list[tuple[int, float]], int, int]] = []
    radius: float | None = None
    for radius in RADII_KM:
        found = _points_many(
            session,
            now,
            [(checked[key][0].slug, str(checked[key][1])) for key in todo],
            lat,
            lon,
            radius,
            exclude_listing,
            cap,
        )
        for key, (points, sales, listings) in zip(todo, found, strict=True):
            if len(points) >= MIN_POINTS:
                cat, unit = checked[key]
                p25, p50, p75 = weighted_quantiles(points)
                basis = f"{_basis_count(sales, listings)} {_radius_text(radius)}"
                bands[key] = Suggestion(
                    cat.slug, str(unit), p25, p50, p75, len(points), sales, listings, radius, basis
                )
        found = [f for key, f in zip(todo, found, strict=True) if key not in bands]
        todo = [key for key in todo if key not in bands]
        if not todo:
            break
    for key, (points, sales, listings) in zip(todo, found, strict=True):
        cat, unit = checked[key]
        bands[key] = _guided(cat, unit, points, sales, listings, radius)
    return bands


def _guided(
    cat: Category,
    unit: Unit,
    points: list[tuple[int, float]],
    sales: int,
    listings: int,
    radius: float | None,
) -> Suggestion:
    """Too few points even across the market: the category guide, shrunk towards the data."""
    prior = cat.prior[unit]
    n = len(points)
    if n:
        # The guide counts as PRIOR_WEIGHT points.
        data = weighted_quantiles(points)
        mixed = [
            round((n * d + PRIOR_WEIGHT * g) / (n + PRIOR_WEIGHT))
            for d, g in zip(data, (prior.p25, prior.p50, prior.p75), strict=True)
        ]
        p25, p50, p75 = sorted(mixed)
        basis = (
            f"category guide: too few nearby ({_basis_count(sales, listings)} "
            f"{_radius_text(radius)} blended in)"
        )
    else:
        p25, p50, p75 = prior.p25, prior.p50, prior.p75
        basis = "category guide: too few nearby (no sales or listings yet)"
    return Suggestion(cat.slug, str(unit), p25, p50, p75, n, sales, listings, radius, basis)


# Bands shown in search results ("12% under the suggested price") are reused while the
# store is unchanged: typing a query re-reads the same few (category, unit) bands around
# the same place on every key. Recency weights move by ~0.2% a day, so a band stays
# current within this many seconds.
CACHE_SECONDS = 300
CACHE_SIZE = 256
_CACHE_KEY = "p2pmarket.pricing.bands"


def suggest_cached(
    session: Session,
    clock: Clock,
    pairs: Iterable[Pair],
    *,
    lat: float,
    lon: float,
    cap: int = SAMPLE_CAP,
) -> dict[Pair, Suggestion]:
    """`suggest_many`, each band remembered while nobody writes to the store.

    The store says where bands may be remembered (PricePoints.memo: on SQLite a dict per
    pooled connection, emptied when PRAGMA data_version or the connection's own
    total_changes moves); where it keeps none, every band is read. The bands not
    remembered are read together.
    """
    pairs = list(dict.fromkeys(pairs))
    remembered = ports.of(session).prices.memo(session, _CACHE_KEY)
    if remembered is None:
        return suggest_many(session, clock, pairs, lat=lat, lon=lon, cap=cap)
    bucket = clock.now() // CACHE_SECONDS
    key = {pair: (*pair, lat, lon, cap, bucket) for pair in pairs}
    missing = [pair for pair in pairs if key[pair] not in remembered]
    bands = suggest_many(session, clock, missing, lat=lat, lon=lon, cap=cap) if missing else {}
    for pair in pairs:
        if pair in bands:
            remembered[key[pair]] = bands[pair]
        else:
            bands[pair] = remembered[key[pair]]
            remembered[key[pair]] = remembered.pop(key[pair])
    while len(remembered) > CACHE_SIZE:
        del remembered[next(iter(remembered))]
    return bands


def _basis_count(sales: int, listings: int) -> str:
    if sales and listings:
        return f"{sales} sale{'s' * (sales != 1)} and {listings} listing{'s' * (listings != 1)}"
    if sales:
        return f"{sales} nearby sale{'s' * (sales != 1)}"
    return f"{listings} nearby listing{'s' * (listings != 1)}"
