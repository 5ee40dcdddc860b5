"""Suggested-price data points on PostgreSQL: pricing.py's `_points_many`, pair by pair.

The same two reads (active listings, completed orders) over the same covering
index on (category, unit, lat, lon, status, price, updated_at), created with the
search objects (search_pg.py); the weights are pricing.py's, computed here in the
same order, so a band on PostgreSQL equals the band on SQLite for the same data.
"""

from __future__ import annotations

import math

from p2pmarket.clock import DAY


def points(
    raw,
    now: int,
    category: str,
    unit: str,
    lat: float,
    lon: float,
    radius_km: float | None,
    exclude: int | None,
    cap: int,
) -> tuple[list[tuple[int, float]], int, int]:
    """pricing._points_many for one pair, on psycopg (inside the session's transaction)."""
    from p2pmarket.services.market import pricing
    from p2pmarket.services.market.search import Box, haversine_km

    scale = (radius_km or 30.0) / 2
    where, args = (
        "l.category = %(category)s AND l.unit = %(unit)s",
        {
            "category": category,
            "unit": str(unit),
        },
    )
    if radius_km is not None:
        box = Box.around(lat, lon, radius_km)
        where += " AND l.lat BETWEEN %(lat0)s AND %(lat1)s AND l.lon BETWEEN %(lon0)s AND %(lon1)s"
        args.update(lat0=box.lat0, lat1=box.lat1, lon0=box.lon0, lon1=box.lon1)
    listing_where = (
        where + " AND l.status = 'active'" + (" AND l.id <> %(exclude)s" if exclude else "")
    )
    if exclude:
        args["exclude"] = exclude
    seen = raw.execute(f"SELECT count(*) FROM listing l WHERE {listing_where}", args).fetchone()[0]
    if seen > cap:
        # The same every-k-th-id sample as on SQLite.
        listing_where += f" AND l.id %% {math.ceil(seen / cap)} = 0"
    queries = (
        (
            f"SELECT l.price, l.updated_at, l.lat, l.lon FROM listing l WHERE {listing_where}",
            pricing.LISTING_WEIGHT,
        ),
        (
            "SELECT o.unit_price, o.updated_at, l.lat, l.lon FROM listing l"
            f" JOIN orders o ON o.listing_id = l.id WHERE {where} AND o.status = 'completed'",
            pricing.ORDER_WEIGHT,
        ),
    )
    points: list[tuple[int, float]] = []
    counts = [0, 0]
    decay = math.log(2) / (pricing.HALF_LIFE_DAYS * DAY)
    for which, (sql, base) in enumerate(queries):
        for price, at, plat, plon in raw.execute(sql, args):
            km = haversine_km(lat, lon, plat, plon)
            if radius_km is not None and km > radius_km:
                continue
            age = max(0, now - at)
            weight = base * math.exp(-decay * age) / (1 + (km / scale) ** 2)
            points.append((price, weight))
            counts[which] += 1
    return points, counts[1], counts[0]
