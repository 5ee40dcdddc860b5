"""Suggested-price data points on SQLite, and the per-connection memo of bands.

Listing points come from one covering index on (category, unit, longitude strip, lat,
lon, status, price, updated_at) (search_index.py): a suggestion reads one latitude range
per 0.01° strip of its box, never the listing table. Orders are few next to listings and
are joined by listing id. A search page needs the bands of many (category, unit) pairs:
each read is one statement, a UNION ALL with one branch per pair (each seeks its own
part of the price index), rows tagged with the pair's position.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence

from sqlmodel import Session

from p2pmarket import tokens as tok
from p2pmarket.geo import ID_MASK, Box, key_ranges
from p2pmarket.models import Kind
from p2pmarket.store.ports import LikeRow, PriceRow

# Longitude strips of the price index: a box is read as one latitude range per 0.01° strip
# (about 1 km), so a suggestion reads about its box, not the whole latitude band.
STRIP_EXPR = "CAST(l.lon * 100 AS INTEGER)"
STRIPS_PER_DEGREE = 100
# A box wider than this many strips (near the poles, across the date line) reads its band.
STRIPS_MAX = 200


def _box_sql(lat: float, lon: float, radius_km: float | None) -> tuple[str, str, dict]:
    """(strip condition, box condition, their parameters) for points within radius_km."""
    if radius_km is None:
        return "", "", {}
    box = Box.around(lat, lon, radius_km)
    # CAST truncates towards zero as int() does, so every longitude of the box is in a strip.
    first, last = int(box.lon0 * STRIPS_PER_DEGREE), int(box.lon1 * STRIPS_PER_DEGREE)
    strips = (
        f" AND {STRIP_EXPR} IN ({','.join(map(str, range(first, last + 1)))})"
        if last - first < STRIPS_MAX
        else ""
    )
    args = {"lat0": box.lat0, "lat1": box.lat1, "lon0": box.lon0, "lon1": box.lon1}
    return strips, " AND l.lat BETWEEN :lat0 AND :lat1 AND l.lon BETWEEN :lon0 AND :lon1", args


def _few_completed(raw: sqlite3.Connection, bound: int) -> bool:
    """Whether the market holds fewer than `bound` completed orders (counts at most that many)."""
    return (
        raw.execute(
            "SELECT count(*) FROM (SELECT 1 FROM orders WHERE status = 'completed' LIMIT ?)",
            (bound,),
        ).fetchone()[0]
        < bound
    )


class SqlitePricePoints:
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
        strips, box, args = _box_sql(lat, lon, radius_km)
        for i, (category, unit) in enumerate(pairs):
            args[f"c{i}"], args[f"u{i}"] = category, unit
        active = " AND l.status = 'active'"
        if exclude:
            active += " AND l.id <> :exclude"
            args["exclude"] = exclude

        def union(select: str, join: str, tail: Callable[[int], str | None]) -> list[tuple]:
            branches = [
                f"SELECT {i}, {select} FROM listing l INDEXED BY ix_listing_price_strips{join}"
                f" WHERE l.category = :c{i} AND l.unit = :u{i}{strips}{part}"
                for i in range(len(pairs))
                if (part := tail(i)) is not None
            ]
            return raw.execute(" UNION ALL ".join(branches), args).fetchall() if branches else []

        seen = dict(union("count(*)", "", lambda i: active + box))

        def sample(i: int) -> str | None:
            # Sample cap: past `cap` listings in the box, every k-th id (by id, so unbiased by
            # place or price) is plenty for three quantiles and keeps p95 flat. The id test
            # comes before the longitude test it spares.
            if not seen[i]:
                return None
            every = f" AND l.id % {math.ceil(seen[i] / cap)} = 0" if seen[i] > cap else ""
            return active + every + box

        listing_rows = union("l.price, l.updated_at, l.lat, l.lon", "", sample)
        if _few_completed(raw, sum(seen.values())):
            # Fewer completed orders in the whole market than listings in the boxes: read
            # them from the orders' status index instead of probing every box listing.
            position = {pair: i for i, pair in enumerate(pairs)}
            order_rows = [
                (position[(category, unit)], *row)
                for category, unit, *row in raw.execute(
                    "SELECT l.category, l.unit, o.unit_price, o.updated_at, l.lat, l.lon"
                    " FROM orders o CROSS JOIN listing l ON l.id = o.listing_id"
                    f" WHERE o.status = 'completed'{box}",
                    args,
                )
                if (category, unit) in position
            ]
        else:
            order_rows = union(
                "o.unit_price, o.updated_at, l.lat, l.lon",
                " JOIN orders o ON o.listing_id = l.id",
                lambda i: f"{box} AND o.status = 'completed'",
            )
        out: list[tuple[list[PriceRow], list[PriceRow]]] = [([], []) for _ in pairs]
        for i, *row in listing_rows:
            out[i][0].append(tuple(row))
        for i, *row in order_rows:
            out[i][1].append(tuple(row))
        return out

    def memo(self, session: Session, name: str) -> dict | None:
        """A dict kept in the pooled connection's `info` (it dies with the connection),
        emptied when PRAGMA data_version (another connection committed) or the
        connection's own total_changes moves."""
        pooled = session.connection().connection
        raw = pooled.dbapi_connection
        stamp = (raw.execute("PRAGMA data_version").fetchone()[0], raw.total_changes)
        cached = pooled.info.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, OrderedDict())
            pooled.info[name] = cached
        return cached[1]

    def vocabulary(self, session: Session, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        raw = session.connection().connection.dbapi_connection
        kinds = [tok.kind_tag(k) for k in Kind]
        counts = dict(
            raw.execute(
                "SELECT term, docs FROM search_terms"
                " WHERE term IN (SELECT value FROM json_each(?))",
                (json.dumps([*terms, *kinds]),),
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
        """Per term, one FTS5 match of the word and the category tag per key range of the
        box (as search.py reads), the listing row then one primary-key lookup."""
        raw = session.connection().connection.dbapi_connection
        where = "search_fts MATCH ? AND l.unit = ? AND l.id <> ?"
        args: list = [unit, exclude or 0]
        ranges: list[tuple[int, int] | None] = [None]
        if radius_km is not None:
            box = Box.around(lat, lon, radius_km)
            ranges = list(key_ranges(box))
            where += " AND f.rowid BETWEEN ? AND ?"
            where += " AND l.lat BETWEEN ? AND ? AND l.lon BETWEEN ? AND ?"
            tail = [box.lat0, box.lat1, box.lon0, box.lon1]
        sql = (
            "SELECT l.id, l.title, l.condition, l.status, l.price, l.updated_at, l.lat, l.lon,"
            " o.unit_price, o.updated_at"
            f" FROM (SELECT l.* FROM search_fts f CROSS JOIN listing l"
            f" ON l.id = (f.rowid & {ID_MASK}) WHERE {where} LIMIT ?) AS l"
            " LEFT JOIN orders o ON o.listing_id = l.id AND o.status = 'completed'"
        )
        found: dict[int, list[LikeRow]] = {}
        for term in terms:
            # Tokens are letters and digits only: quoted, they are one FTS5 phrase.
            match = f'words : "{term}" AND tags : {tok.category_tag(category)}'
            for cells in ranges:
                place = [] if cells is None else [*cells, *tail]
                fresh: dict[int, list[LikeRow]] = {}
                for row in raw.execute(sql, [match, *args, *place, cap - len(found)]):
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
        return raw.execute(
            "SELECT l.category, l.unit, count(*) FROM (SELECT rowid FROM search_fts"
            " WHERE search_fts MATCH ? LIMIT ?) AS f"
            f" CROSS JOIN listing l ON l.id = (f.rowid & {ID_MASK})"
            " WHERE l.status = 'active' AND l.id <> ?"
            " GROUP BY l.category, l.unit ORDER BY count(*) DESC, l.category, l.unit",
            (f'words : "{term}"', cap, exclude or 0),
        ).fetchall()
