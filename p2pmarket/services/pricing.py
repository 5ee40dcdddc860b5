"""Suggested prices: a weighted p25/p50/p75 band from nearby sales and listings.

Data points are completed orders (unit price, weight 2) and active listings (weight
1) of the same category and unit, each weighted by distance (1 at the centre, 1/2
at `scale`) and recency (half-life 90 days). With fewer than MIN_POINTS points the
radius widens (3 km, 10 km, the whole market); when even the whole market is thin
the band leans on the category guide in data/ (shrinkage: the guide counts as
PRIOR_WEIGHT points).

Speed: listing points come from one covering index on (category, unit, lat, lon,
status, price, updated_at), so a suggestion reads a latitude slice of one
category's index entries and never touches the listing table; the longitude and
the exact distance are checked on those entries. Orders are few next to listings
and are joined by listing id.
"""

from __future__ import annotations

import math
import sqlite3
from collections import OrderedDict
from dataclasses import asdict, dataclass

from sqlmodel import Session

from p2pmarket.clock import DAY, Clock
from p2pmarket.errors import Invalid
from p2pmarket.models import Unit
from p2pmarket.services import catalog
from p2pmarket.services.catalog import Band

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


def _bbox(lat: float, lon: float, radius_km: float):
    from p2pmarket.services.search import Box

    return Box.around(lat, lon, radius_km)


def _points(
    raw: sqlite3.Connection,
    now: int,
    category: str,
    unit: str,
    lat: float,
    lon: float,
    radius_km: float | None,
    exclude: int | None,
    cap: int,
) -> tuple[list[tuple[int, float]], int, int]:
    from p2pmarket.services.search import haversine_km

    scale = (radius_km or 30.0) / 2
    where, args = "l.category = ? AND l.unit = ?", [category, str(unit)]
    if radius_km is not None:
        box = _bbox(lat, lon, radius_km)
        where += " AND l.lat BETWEEN ? AND ? AND l.lon BETWEEN ? AND ?"
        args += [box.lat0, box.lat1, box.lon0, box.lon1]
    points: list[tuple[int, float]] = []
    counts = [0, 0]
    decay = math.log(2) / (HALF_LIFE_DAYS * DAY)
    queries = (
        (
            f"SELECT l.price, l.updated_at, l.lat, l.lon FROM listing l"
            f" INDEXED BY ix_listing_price_guide WHERE {where} AND l.status = 'active'"
            + (" AND l.id <> ?" if exclude else ""),
            LISTING_WEIGHT,
        ),
        (
            f"SELECT o.unit_price, o.updated_at, l.lat, l.lon FROM listing l"
            f" INDEXED BY ix_listing_price_guide JOIN orders o ON o.listing_id = l.id"
            f" WHERE {where} AND o.status = 'completed'",
            ORDER_WEIGHT,
        ),
    )
    seen = 0
    for which, (sql, base) in enumerate(queries):
        params = args + ([exclude] if exclude and which == 0 else [])
        if which == 0:
            # Sample cap: past `cap` listings in the box, every k-th id (by id, so unbiased
            # by place or price) is plenty for three quantiles and keeps p95 flat.
            count_sql = sql.replace("SELECT l.price, l.updated_at, l.lat, l.lon", "SELECT count(*)")
            seen = raw.execute(count_sql, params).fetchone()[0]
            if seen > cap:
                sql += f" AND l.id % {math.ceil(seen / cap)} = 0"
        elif _few_completed(raw, seen):
            # Fewer completed orders in the whole market than listings in the box: read
            # them from the orders' status index instead of probing every box listing.
            sql = sql.replace(
                "FROM listing l INDEXED BY ix_listing_price_guide JOIN orders o",
                "FROM orders o CROSS JOIN listing l",
            )
        for price, at, plat, plon in raw.execute(sql, params):
            km = haversine_km(lat, lon, plat, plon)
            if radius_km is not None and km > radius_km:
                continue
            age = max(0, now - at)
            weight = base * math.exp(-decay * age) / (1 + (km / scale) ** 2)
            points.append((price, weight))
            counts[which] += 1
    return points, counts[1], counts[0]


def _few_completed(raw: sqlite3.Connection, bound: int) -> bool:
    """Whether the market holds fewer than `bound` completed orders (counts at most that many)."""
    return (
        raw.execute(
            "SELECT count(*) FROM (SELECT 1 FROM orders WHERE status = 'completed' LIMIT ?)",
            (bound,),
        ).fetchone()[0]
        < bound
    )


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
    prior = cat.prior[unit]
    raw = session.connection().connection.dbapi_connection
    now = clock.now()
    points: list[tuple[int, float]] = []
    sales = listings = 0
    radius: float | None = None
    for radius in RADII_KM:
        points, sales, listings = _points(
            raw, now, cat.slug, unit, lat, lon, radius, exclude_listing, cap
        )
        if len(points) >= MIN_POINTS:
            p25, p50, p75 = weighted_quantiles(points)
            return Suggestion(
                cat.slug,
                str(unit),
                p25,
                p50,
                p75,
                len(points),
                sales,
                listings,
                radius,
                f"{_basis_count(sales, listings)} {_radius_text(radius)}",
            )
    n = len(points)
    if n:
        # Shrink the thin data towards the guide: the guide counts as PRIOR_WEIGHT points.
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
    *,
    category: str,
    unit: Unit | str,
    lat: float,
    lon: float,
    cap: int = SAMPLE_CAP,
) -> Suggestion:
    """`suggest`, remembered per SQLite connection until anyone writes to the store.

    The cache lives in the pooled connection's `info` (it dies with the connection) and
    is dropped when PRAGMA data_version (another connection committed) or the
    connection's own total_changes moves. Other databases are not cached.
    """
    pooled = session.connection().connection
    raw = pooled.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        return suggest(session, clock, category=category, unit=unit, lat=lat, lon=lon, cap=cap)
    stamp = (raw.execute("PRAGMA data_version").fetchone()[0], raw.total_changes)
    cached = pooled.info.get(_CACHE_KEY)
    if cached is None or cached[0] != stamp:
        cached = (stamp, OrderedDict())
        pooled.info[_CACHE_KEY] = cached
    bands: OrderedDict = cached[1]
    key = (category, str(unit), lat, lon, cap, clock.now() // CACHE_SECONDS)
    hit = bands.get(key)
    if hit is not None:
        bands.move_to_end(key)
        return hit
    hit = suggest(session, clock, category=category, unit=unit, lat=lat, lon=lon, cap=cap)
    bands[key] = hit
    if len(bands) > CACHE_SIZE:
        bands.popitem(last=False)
    return hit


def _basis_count(sales: int, listings: int) -> str:
    if sales and listings:
        return f"{sales} sale{'s' * (sales != 1)} and {listings} listing{'s' * (listings != 1)}"
    if sales:
        return f"{sales} nearby sale{'s' * (sales != 1)}"
    return f"{listings} nearby listing{'s' * (listings != 1)}"


# PostgreSQL reads the same data points in services/pricing_pg.py (one per dialect).
_sqlite_points = _points


def _points(raw, *args):
    if isinstance(raw, sqlite3.Connection):
        return _sqlite_points(raw, *args)
    from p2pmarket.services import pricing_pg

    return pricing_pg.points(raw, *args)
