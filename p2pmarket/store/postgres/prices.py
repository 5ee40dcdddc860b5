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

from p2pmarket import tokens as tok
from p2pmarket.geo import ID_MASK, Box, key_ranges
from p2pmarket.models import Kind
from p2pmarket.store.ports import LikeRow, PriceRow
from p2pmarket.store.postgres.search import TAG


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

    def vocabulary(self, session: Session, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        kinds = [TAG + tok.kind_tag(k) for k in Kind]
        raw = session.connection().connection.dbapi_connection
        counts = dict(
            raw.execute(
                "SELECT term, docs FROM search_terms WHERE term = ANY(%(terms)s)",
                {"terms": [*terms, *kinds]},
            ).fetchall()
        )
        indexed = sum(counts.pop(k, 0) for k in kinds)
        return {t: counts[t] for t in terms if counts.get(t)}, indexed

    def alike(
        self,
        session: Session,
        category: str,
        unit: str,
        terms: Sequence[str],
        lat: float,
        lon: float,
        radius_km: float | None,
        exclude: int | None,
        cap: int,
    ) -> list[LikeRow]:
        """Per term, its postings in each key range of the box (search.py's index), the
        listing row then one primary-key lookup; category and unit checked on the row."""
        raw = session.connection().connection.dbapi_connection
        where = "p.term = %(term)s AND l.category = %(category)s AND l.unit = %(unit)s"
        where += " AND l.id <> %(exclude)s"
        args: dict = {"category": category, "unit": unit, "exclude": exclude or 0}
        ranges: list[tuple[int, int] | None] = [None]
        if radius_km is not None:
            box = Box.around(lat, lon, radius_km)
            ranges = list(key_ranges(box))
            where += " AND p.key BETWEEN %(lo)s AND %(hi)s"
            where += (
                " AND l.lat BETWEEN %(lat0)s AND %(lat1)s AND l.lon BETWEEN %(lon0)s AND %(lon1)s"
            )
            args.update(lat0=box.lat0, lat1=box.lat1, lon0=box.lon0, lon1=box.lon1)
        sql = (
            "SELECT l.id, l.title, l.condition, l.status, l.price, l.updated_at, l.lat, l.lon,"
            " o.unit_price, o.updated_at"
            " FROM (SELECT l.id, l.title, l.condition, l.status::text AS status, l.price,"
            " l.updated_at, l.lat, l.lon FROM search_posting p"
            f" JOIN listing l ON l.id = (p.key & {ID_MASK}) WHERE {where} LIMIT %(limit)s) AS l"
            " LEFT JOIN orders o ON o.listing_id = l.id AND o.status = 'completed'"
        )
        found: dict[int, list[LikeRow]] = {}
        for term in terms:
            for cells in ranges:
                place = {} if cells is None else {"lo": cells[0], "hi": cells[1]}
                fresh: dict[int, list[LikeRow]] = {}
                limit = cap - len(found)
                for row in raw.execute(sql, {**args, **place, "term": term, "limit": limit}):
                    if row[0] not in found:
                        fresh.setdefault(row[0], []).append(tuple(row))
                found.update(fresh)
                if len(found) >= cap:
                    return [row for rows in found.values() for row in rows]
        return [row for rows in found.values() for row in rows]

    def holders(
        self, session: Session, term: str, exclude: int | None, cap: int
    ) -> list[tuple[str, str, int]]:
        raw = session.connection().connection.dbapi_connection
        rows = raw.execute(
            "SELECT l.category, l.unit::text, count(*) FROM (SELECT key FROM search_posting"
            " WHERE term = %(term)s LIMIT %(cap)s) AS p"
            f" JOIN listing l ON l.id = (p.key & {ID_MASK})"
            " WHERE l.status = 'active' AND l.id <> %(exclude)s"
            " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
            {"term": term, "cap": cap, "exclude": exclude or 0},
        ).fetchall()
        return [tuple(r) for r in rows]


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
