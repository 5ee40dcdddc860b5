"""Suggested-price data points on PostgreSQL, pair by pair.

The same two reads as on SQLite (active listings, sampled past the cap by every k-th
id; completed orders) over a covering index on (category, unit, lat, lon, status,
price, updated_at), created with the search objects (search_index.py). Bands are not
remembered between searches here: there is no cheap "nobody wrote" stamp per connection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlmodel import Session

from p2pmarket.geo import Box
from p2pmarket.store.ports import PriceRow


class PgPricePoints:
    def rows(
        self,
        session: Session,
        pairs: Sequence[tuple[str, str]],
        lat: float,
        lon: float,
        radius_km: float | None,
        exclude: int | None,
        cap: int,
    ) -> list[tuple[list[PriceRow], list[PriceRow]]]:
        raw = session.connection().connection.dbapi_connection
        return [
            _pair_rows(raw, category, unit, lat, lon, radius_km, exclude, cap)
            for category, unit in pairs
        ]

    def memo(self, session: Session, name: str) -> dict | None:
        return None


def _pair_rows(raw, category, unit, lat, lon, radius_km, exclude, cap):
    where = "l.category = %(category)s AND l.unit = %(unit)s"
    args: dict = {"category": category, "unit": str(unit)}
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
    listings = raw.execute(
        f"SELECT l.price, l.updated_at, l.lat, l.lon FROM listing l WHERE {listing_where}", args
    ).fetchall()
    orders = raw.execute(
        "SELECT o.unit_price, o.updated_at, l.lat, l.lon FROM listing l"
        f" JOIN orders o ON o.listing_id = l.id WHERE {where} AND o.status = 'completed'",
        args,
    ).fetchall()
    return [tuple(r) for r in listings], [tuple(r) for r in orders]
