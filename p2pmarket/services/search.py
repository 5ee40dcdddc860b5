"""Nearby search: text and place intersect inside one FTS5 index.

Design (why it is shaped like this):

- One FTS5 table, `search_fts`, rowid = listing id, two columns. `words` holds the
  listing's title and description as tokens we compute here in Python; `tags` holds
  the listing's kind, category and geographic cell ids at six grid levels. A query
  is `words : (t1* AND t2*) AND tags : (cell1 OR cell2 …) [AND tags : (category)]`,
  so FTS5 intersects text and place by seeking through doclists; only listings that
  match both ever leave the index. Exact distance is then computed on that small set.
- Tokens are ours, not the tokenizer's: latin/digit runs are folded (NFKC, casefold,
  no diacritics); runs of Chinese/Japanese/Korean characters become unigrams and
  bigrams, the usual CJK indexing, so the two-character query 钢琴 finds 钢琴课 and
  少儿钢琴课 (a trigram tokenizer would need three characters; unicode61 would keep
  少儿钢琴课 as one token and only match it by its first characters). Every query
  token is a prefix query, so "pian" finds "piano" while a person types.
  The FTS5 `ascii` tokenizer then splits our space-separated tokens only on
  spaces, so the index and the query see exactly the tokens computed here.
- Status, price and seller are read from the listing row (primary-key lookup) for
  the few candidates, so pausing or selling out a listing never has to touch the
  index; only text, category, kind and place changes do.
- The index is derived data. Triggers on `listing` queue changed ids in
  `search_dirty`; `catch_up` (called by the shop services, seeding and before a
  search when something is queued) re-indexes exactly those rows; `rebuild`
  (`p2pmarket reindex`) recreates everything from the listing table.
- Sorting by nearest or best grows the radius in steps (0.1 km, ×3 …) and stops
  as soon as no listing further out could still make the page, so browsing a
  dense centre never materialises every listing within the radius.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import Connection
from sqlmodel import Session

from p2pmarket import text as text_mod
from p2pmarket.errors import Invalid, StoreFailure
from p2pmarket.models import Kind, User
from p2pmarket.services import catalog, contacts

INDEX_VERSION = "1"
EARTH_KM = 6371.0088
KM_PER_DEG = math.pi * EARTH_KM / 180
RADIUS_DEFAULT_KM = 3.0
RADIUS_MAX_KM = 500.0
PAGE_SIZE = 20
QUERY_MAX = 200
QUERY_TOKENS_MAX = 8
# Grid levels: cell side in degrees, ×4 per level (≈0.44 km … ≈455 km north-south).
LEVELS = (0.004, 0.016, 0.064, 0.256, 1.024, 4.096)
# A query covers its circle with at most this many cells of the finest level that fits:
# FTS5 pays for an OR of cells on every seek of the AND, so few and coarse beats many.
MAX_CELLS = 4
FIRST_STEP_KM = 0.1
STEP_FACTOR = 3.0
# "best": text score times this distance decay (1 at the door, 0.5 at 1 km).
DECAY_KM = 1.0
# The text side leads when it holds at most this many times the listings of the cells.
TEXT_LEADS = 1.0
PREFIX_SCORE = 0.7
BATCH = 5_000
# The "x% under the suggested price" of a result reads a smaller sample than `price suggest`.
WHY_PRICE_CAP = 200
BULK_CACHE_KB = 64 * 1024

Progress = Callable[[int, int], None]


class Sort(StrEnum):
    best = "best"
    nearest = "nearest"
    cheapest = "cheapest"
    credit = "credit"


# ---------------------------------------------------------------- tokens and cells

_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_RUN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=65_536)
def tokens(text: str) -> tuple[str, ...]:
    """Index tokens of a text: folded latin/digit words, CJK unigrams and bigrams."""
    out: list[str] = []
    for cjk, word in _RUN.findall(_fold(text)):
        if word:
            out.append(word)
        else:
            out.extend(cjk)
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return tuple(dict.fromkeys(out))


def query_tokens(text: str) -> tuple[str, ...]:
    """Tokens of what a person typed: each must prefix some token of a listing."""
    out: list[str] = []
    for cjk, word in _RUN.findall(_fold(text)):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return tuple(dict.fromkeys(out))


def _cell(level: int, lat: float, lon: float) -> str:
    side = LEVELS[level]
    return f"g{level}x{math.floor((lon + 180) / side)}y{math.floor((lat + 90) / side)}"


@lru_cache(maxsize=65_536)
def cells(lat: float, lon: float) -> tuple[str, ...]:
    return tuple(_cell(level, lat, lon) for level in range(len(LEVELS)))


def _category_tag(slug: str) -> str:
    return "c" + slug.replace("-", "")


def doc(listing_row: tuple) -> tuple[str, str]:
    """(words, tags) for (title, description, category, kind, lat, lon)."""
    title, description, category, kind, lat, lon = listing_row
    words = tokens(title) + (tokens(description) if description else ())
    tags = (f"k{kind}", _category_tag(category), *cells(lat, lon))
    return " ".join(dict.fromkeys(words)), " ".join(tags)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def round_km(km: float) -> float:
    """Distances are shown rounded, never exact: 0.1 km steps under 10 km, then whole km."""
    if km < 10:
        return max(0.1, round(km, 1))
    return float(round(km))


def fmt_km(km: float) -> str:
    shown = round_km(km)
    return f"~{shown:.1f} km" if shown < 10 else f"~{shown:.0f} km"


@dataclass(frozen=True)
class Box:
    """A latitude/longitude box that holds every point within `radius_km` of a centre."""

    lat0: float
    lat1: float
    lon0: float
    lon1: float
    wraps: bool

    @classmethod
    def around(cls, lat: float, lon: float, radius_km: float) -> Box:
        angle = radius_km / EARTH_KM
        dlat = math.degrees(angle) * (1 + 1e-9) + 1e-9
        lat0, lat1 = lat - dlat, lat + dlat
        if lat0 <= -90 or lat1 >= 90:
            return cls(max(lat0, -90.0), min(lat1, 90.0), -180.0, 180.0, False)
        # The widest longitude reach of a circle (Matuschek, "Finding points within a distance").
        reach = math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat))))
        dlon = math.degrees(reach) * (1 + 1e-9) + 1e-9
        lon0, lon1 = lon - dlon, lon + dlon
        wraps = lon0 < -180 or lon1 > 180
        if wraps:
            lon0, lon1 = -180.0, 180.0
        return cls(lat0, lat1, lon0, lon1, wraps)

    def cover(self) -> list[str] | None:
        """Cells of the finest level covering the box in at most MAX_CELLS, or None."""
        if self.wraps or self.lon1 - self.lon0 >= 360:
            return None
        for level, side in enumerate(LEVELS):
            xs = range(
                math.floor((self.lon0 + 180) / side), math.floor((self.lon1 + 180) / side) + 1
            )
            ys = range(math.floor((self.lat0 + 90) / side), math.floor((self.lat1 + 90) / side) + 1)
            if len(xs) * len(ys) <= MAX_CELLS:
                return [f"g{level}x{x}y{y}" for x in xs for y in ys]
        return None


# ---------------------------------------------------------------- the index

_DDL = (
    # `ascii` splits only on ASCII punctuation and spaces: our tokens arrive intact.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "words, tags, tokenize='ascii', prefix='2 3', detail=column, columnsize=0)",
    # Term statistics: how many listings each token (word or cell) is in, for the planner.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_vocab USING fts5vocab(search_fts, 'row')",
    "CREATE TABLE IF NOT EXISTS search_dirty (listing_id INTEGER PRIMARY KEY, fresh INTEGER)",
    "CREATE TRIGGER IF NOT EXISTS search_listing_insert AFTER INSERT ON listing BEGIN "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (new.id, 1); END",
    "CREATE TRIGGER IF NOT EXISTS search_listing_update AFTER UPDATE OF "
    "title, description, category, kind, lat, lon ON listing BEGIN "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (old.id, 0); "
    "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) VALUES (new.id, 0); END",
    "CREATE TRIGGER IF NOT EXISTS search_listing_delete AFTER DELETE ON listing BEGIN "
    "INSERT OR REPLACE INTO search_dirty (listing_id, fresh) VALUES (old.id, 0); END",
    # Suggested prices: category + unit, then a latitude range, covering what is read.
    "CREATE INDEX IF NOT EXISTS ix_listing_price_guide "
    "ON listing (category, unit, lat, lon, status, price, updated_at)",
)
_OBJECTS = (
    "search_fts",
    "search_vocab",
    "search_dirty",
    "search_listing_insert",
    "search_listing_update",
    "search_listing_delete",
    "ix_listing_price_guide",
)


def installed(conn: Connection) -> bool:
    marks = ",".join("?" * len(_OBJECTS))
    count = conn.exec_driver_sql(
        f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", _OBJECTS
    ).scalar()
    return count == len(_OBJECTS)


def install(conn: Connection) -> None:
    """Create the derived search objects (SQLite only). Existing listings are queued."""
    fresh = not conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'search_fts'"
    ).first()
    for statement in _DDL:
        conn.exec_driver_sql(statement)
    if fresh:
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO search_dirty (listing_id, fresh) SELECT id, 1 FROM listing"
        )


def _raw(session: Session) -> sqlite3.Connection:
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        raise StoreFailure(
            "search_unsupported", "Nearby search needs the SQLite store's FTS5 index."
        )
    return conn.connection.dbapi_connection


def pending(session: Session) -> int:
    """How many listings wait to be (re)indexed."""
    return _raw(session).execute("SELECT count(*) FROM search_dirty").fetchone()[0]


_DOC_COLUMNS = "title, description, category, kind, lat, lon"


def _index_rows(raw: sqlite3.Connection, rows: Iterable[tuple]) -> int:
    batch = [(row[0], *doc(row[1:])) for row in rows]
    raw.executemany("INSERT INTO search_fts (rowid, words, tags) VALUES (?, ?, ?)", batch)
    return len(batch)


def catch_up(session: Session, progress: Progress | None = None) -> int:
    """Re-index every queued listing, in this write transaction. Returns how many."""
    session.flush()
    if session.connection().dialect.name != "sqlite":
        return 0
    raw = _raw(session)
    total = raw.execute("SELECT count(*) FROM search_dirty").fetchone()[0]
    if not total:
        return 0
    stale = [
        (lid,) for (lid,) in raw.execute("SELECT listing_id FROM search_dirty WHERE fresh = 0")
    ]
    raw.executemany("DELETE FROM search_fts WHERE rowid = ?", stale)
    done = 0
    last = 0
    while True:
        rows = raw.execute(
            f"SELECT l.id, {_DOC_COLUMNS} FROM search_dirty d JOIN listing l ON l.id = d.listing_id"
            " WHERE d.listing_id > ? ORDER BY d.listing_id LIMIT ?",
            (last, BATCH),
        ).fetchall()
        if not rows:
            break
        done += _index_rows(raw, rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)
    raw.execute("DELETE FROM search_dirty")
    if progress:
        progress(total, total)
    return done


def suspend(session: Session) -> int:
    """Before a bulk load: drop the triggers and the price index (rebuilt by `resume`).

    Maintaining them row by row makes a million-row seed several times slower than
    building them once afterwards. Both calls belong in the same write transaction,
    so a failed load rolls the drops back too. Returns the last listing id before the load.
    """
    raw = _raw(session)
    for name in ("search_listing_insert", "search_listing_update", "search_listing_delete"):
        raw.execute(f"DROP TRIGGER IF EXISTS {name}")
    raw.execute("DROP INDEX IF EXISTS ix_listing_price_guide")
    # A bigger page cache for the load (the listing table's own indexes grow in random order).
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
    return raw.execute("SELECT coalesce(max(id), 0) FROM listing").fetchone()[0]


def resume(session: Session, after_id: int, progress: Progress | None = None) -> int:
    """After a bulk load: index listings with id > after_id, recreate triggers and indexes."""
    raw = _raw(session)
    total = raw.execute("SELECT count(*) FROM listing WHERE id > ?", (after_id,)).fetchone()[0]
    done = _index_since(raw, after_id, total, progress)
    for statement in _DDL:
        raw.execute(statement)
    catch_up(session)
    raw.execute("PRAGMA cache_size = -2000")
    return done


def _index_since(raw: sqlite3.Connection, last: int, total: int, progress: Progress | None) -> int:
    done = 0
    while True:
        rows = raw.execute(
            f"SELECT id, {_DOC_COLUMNS} FROM listing WHERE id > ? ORDER BY id LIMIT ?",
            (last, BATCH * 4),
        ).fetchall()
        if not rows:
            break
        done += _index_rows(raw, rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)
    return done


def rebuild(session: Session, progress: Progress | None = None) -> int:
    """Recreate the whole index from the listing table (derived data, never the truth)."""
    raw = _raw(session)
    raw.execute("DELETE FROM search_fts")
    raw.execute("DELETE FROM search_dirty")
    total = raw.execute("SELECT count(*) FROM listing").fetchone()[0]
    done = _index_since(raw, 0, total, progress)
    if progress:
        progress(total, total)
    return done


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    text: str = ""
    lat: float = 0.0
    lon: float = 0.0
    radius_km: float = RADIUS_DEFAULT_KM
    kind: Kind | None = None
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    min_credit: int | None = None
    sort: Sort = Sort.best
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    kind: str
    category: str
    price: int
    unit: str
    seller: str
    distance_km: float
    distance: str
    credit: int | None
    why: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Results:
    query: str
    centre: str
    radius_km: float
    sort: str
    page: int
    has_more: bool
    hits: tuple[Hit, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        data = asdict(self)
        data["hits"] = [h.to_json() for h in self.hits]
        return data


def parse_sort(value: str) -> Sort:
    try:
        return Sort(value.strip().lower())
    except ValueError:
        raise Invalid(
            "sort_format", f"Sort {value[:20]!r} must be best, nearest, cheapest or credit."
        ) from None


def parse_near(value: str) -> tuple[float, float]:
    """'31.23,121.47' → (lat, lon)."""
    from p2pmarket.services.accounts import check_location

    parts = value.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise Invalid(
            "near_format",
            f"--near {text_mod.strip_controls(value)[:40]!r} must be LAT,LON, e.g. 31.23,121.47.",
        ) from None
    return check_location(lat, lon)


def check_query(query: Query) -> Query:
    if not (math.isfinite(query.radius_km) and 0 < query.radius_km <= RADIUS_MAX_KM):
        raise Invalid(
            "radius_range",
            f"Radius {query.radius_km:g} km must be more than 0 and at most {RADIUS_MAX_KM:g} km.",
        )
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise Invalid("price_range", "The minimum price is above the maximum price.")
    if query.page < 1 or query.page > 1000:
        raise Invalid("page_range", "The page must be between 1 and 1000.")
    if query.min_credit is not None and not 0 <= query.min_credit <= 1000:
        raise Invalid("credit_range", "The minimum credit must be between 0 and 1000.")
    if len(query.text) > QUERY_MAX:
        raise Invalid("query_too_long", f"The search text may have at most {QUERY_MAX} characters.")
    if len(query_tokens(query.text)) > QUERY_TOKENS_MAX:
        raise Invalid("query_too_many_words", f"Search for at most {QUERY_TOKENS_MAX} words.")
    if query.category is not None:
        query = _replace(query, category=catalog.category(query.category).slug)
    return query


def _replace(query: Query, **changes) -> Query:
    from dataclasses import replace

    return replace(query, **changes)


def seller_credit(session: Session, seller_ids: Iterable[int]) -> dict[int, int | None]:
    """Published transaction credit of each seller; None while unknown or unpublished.

    Credit scores do not exist yet in this market; this is the one place to wire them.
    """
    return dict.fromkeys(seller_ids)


def _fts_string(words: tuple[str, ...], tags: list[list[str]]) -> str | None:
    parts = []
    if words:
        parts.append("words : (" + " AND ".join(f'"{w}"*' for w in words) + ")")
    for group in tags:
        parts.append("tags : (" + " OR ".join(group) + ")")
    return " AND ".join(parts) if parts else None


@dataclass
class _Candidate:
    id: int
    title: str
    description: str
    kind: str
    category: str
    unit: str
    price: int
    seller_id: int
    km: float
    credit: int | None = None
    text_score: float = 1.0
    where: str = ""

    @property
    def score(self) -> float:
        return self.text_score / (1 + self.km / DECAY_KM)


_SELECT = (
    "SELECT l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id,"
    " l.lat, l.lon FROM search_fts f JOIN listing l ON l.id = f.rowid"
    " WHERE search_fts MATCH ? AND l.status = 'active' AND l.seller_id <> ?"
)


def _filters(query: Query) -> tuple[str, list]:
    sql, args = "", []
    if query.min_price is not None:
        sql += " AND l.price >= ?"
        args.append(query.min_price)
    if query.max_price is not None:
        sql += " AND l.price <= ?"
        args.append(query.max_price)
    return sql, args


def _text_score(words: tuple[str, ...], title: str, description: str) -> tuple[float, str]:
    """1.0 per exact title word, 0.7 per title prefix, 0.4 per description-only word."""
    if not words:
        return 1.0, ""
    title_tokens = tokens(title)
    total, in_title = 0.0, True
    for w in words:
        if w in title_tokens:
            total += 1.0
        elif any(t.startswith(w) for t in title_tokens):
            total += PREFIX_SCORE
        else:
            total += 0.4
            in_title = False
    return total / len(words), "title match" if in_title else "description match"


def _docs(raw: sqlite3.Connection, term: str) -> int:
    """Listings holding a token, from the vocab table."""
    row = raw.execute("SELECT doc FROM search_vocab WHERE term = ?", (term,)).fetchone()
    return row[0] if row else 0


def _prefix_docs(raw: sqlite3.Connection, term: str) -> tuple[int, bool]:
    """(an upper bound of listings with a token starting with `term`, is `term` itself a token)."""
    upper = term[:-1] + chr(ord(term[-1]) + 1)
    total, exact = 0, False
    for found, docs in raw.execute(
        "SELECT term, doc FROM search_vocab WHERE term >= ? AND term < ?", (term, upper)
    ):
        total += docs
        exact = exact or found == term
    return total, exact


@dataclass
class _Plan:
    """What one search does: which side leads, and how large each side is."""

    words: tuple[str, ...]
    static_tags: list[list[str]]
    text_docs: int | None

    def choose(self, raw: sqlite3.Connection, cover: list[str] | None) -> str:
        if not self.words:
            return "cells"
        if cover is None:
            return "text"
        geo_docs = sum(_docs(raw, cell) for cell in cover)
        # A rare text side is cheapest read alone and checked against the box row by row;
        # otherwise FTS5 intersects the words with the cells inside the index.
        return "text" if (self.text_docs or 0) <= TEXT_LEADS * geo_docs else "both"


def _step(
    raw: sqlite3.Connection,
    query: Query,
    me_id: int,
    plan: _Plan,
    radius_km: float,
) -> tuple[str, list[_Candidate]]:
    box = Box.around(query.lat, query.lon, radius_km)
    cover = box.cover()
    how = plan.choose(raw, cover)
    if how == "text":
        box = Box.around(query.lat, query.lon, query.radius_km)
        radius_km = query.radius_km
        tags = plan.static_tags
    else:
        tags = [*plan.static_tags, cover] if cover else plan.static_tags
    match = _fts_string(plan.words if how != "cells" else (), tags)
    extra, args = _filters(query)
    if match is None:
        # Nothing to match on (the whole world, no text, no filter): the box alone.
        sql = (
            "SELECT l.id, l.title, l.description, l.kind, l.category, l.unit, l.price,"
            " l.seller_id, l.lat, l.lon FROM listing l WHERE l.status = 'active'"
            " AND l.seller_id <> ?"
        )
        params = [me_id]
    else:
        sql, params = _SELECT, [match, me_id]
    sql += extra + " AND l.lat BETWEEN ? AND ? AND l.lon BETWEEN ? AND ?"
    params += [*args, box.lat0, box.lat1, box.lon0, box.lon1]
    found = []
    for lid, title, desc, kind, cat, unit, price, seller_id, lat, lon in raw.execute(sql, params):
        km = haversine_km(query.lat, query.lon, lat, lon)
        if km <= radius_km:
            found.append(_Candidate(lid, title, desc, kind, cat, unit, price, seller_id, km))
    return how, found


def _sort_key(sort: Sort) -> Callable[[_Candidate], tuple]:
    if sort is Sort.nearest:
        return lambda c: (c.km, c.id)
    if sort is Sort.cheapest:
        return lambda c: (c.price, c.km, c.id)
    if sort is Sort.credit:
        return lambda c: (c.credit is None, -(c.credit or 0), c.km, c.id)
    return lambda c: (-c.score, c.km, c.id)


def find(session: Session, me: User, query: Query) -> tuple[list[_Candidate], bool]:
    """The matching listings of one page (in order) and whether more follow."""
    query = check_query(query)
    raw = _raw(session)
    words = query_tokens(query.text)
    static_tags: list[list[str]] = []
    if query.kind is not None:
        static_tags.append([f"k{query.kind}"])
    if query.category is not None:
        static_tags.append([_category_tag(query.category)])
    stats = [_prefix_docs(raw, w) for w in words]
    text_docs = min((docs for docs, _ in stats), default=None)
    plan = _Plan(words, static_tags, text_docs)
    # The best text score any listing could reach: words typed only as prefixes score less.
    best_text = (
        sum(1.0 if exact else PREFIX_SCORE for _, exact in stats) / len(stats) if stats else 1.0
    )
    blocked = contacts.blocked_by(session, me.id)
    need = query.page * query.page_size + 1
    key = _sort_key(query.sort)

    # Nearest and best can stop early: past radius r nobody scores better than at r.
    if query.sort in (Sort.nearest, Sort.best):
        radii, r = [], min(FIRST_STEP_KM, query.radius_km)
        while r < query.radius_km:
            radii.append(r)
            r *= STEP_FACTOR
        radii.append(query.radius_km)
    else:
        radii = [query.radius_km]

    found: list[_Candidate] = []
    for radius in radii:
        how, rows = _step(raw, query, me.id, plan, radius)
        found = _keep(session, query, words, blocked, rows)
        if how == "text" or radius == radii[-1] or len(found) < need:
            if how == "text":
                break
            continue
        found.sort(key=key)
        bound = found[need - 1]
        outside = best_text / (1 + radius / DECAY_KM)
        if query.sort is Sort.nearest or bound.score >= outside:
            break
    found.sort(key=key)
    start = (query.page - 1) * query.page_size
    return found[start : start + query.page_size], len(found) > start + query.page_size


def _keep(
    session: Session,
    query: Query,
    words: tuple[str, ...],
    blocked: set[int],
    candidates: Iterable[_Candidate],
) -> list[_Candidate]:
    kept = [c for c in candidates if c.seller_id not in blocked]
    if query.min_credit is not None or query.sort is Sort.credit:
        credit = seller_credit(session, {c.seller_id for c in kept})
        for c in kept:
            c.credit = credit.get(c.seller_id)
        if query.min_credit is not None:
            kept = [c for c in kept if c.credit is not None and c.credit >= query.min_credit]
    if words and query.sort is Sort.best:
        for c in kept:
            c.text_score, c.where = _text_score(words, c.title, c.description)
    return kept


def search(
    session: Session,
    clock,
    me: User,
    query: Query,
    *,
    centre: str = "home",
    compare_prices: bool = True,
) -> Results:
    """One page of nearby listings for `me`, each with a rounded distance and a why."""
    query = check_query(query)
    page, has_more = find(session, me, query)
    words = query_tokens(query.text)
    ids = {c.seller_id for c in page}
    handles = (
        dict(
            _raw(session).execute(
                f"SELECT id, handle FROM user WHERE id IN ({','.join('?' * len(ids))})", list(ids)
            )
        )
        if ids
        else {}
    )
    credit = seller_credit(session, ids)
    bands = {}
    if compare_prices:
        from p2pmarket.services import pricing

        for key in {(c.category, c.unit) for c in page}:
            bands[key] = pricing.suggest(
                session,
                clock,
                category=key[0],
                unit=key[1],
                lat=query.lat,
                lon=query.lon,
                cap=WHY_PRICE_CAP,
            )
    hits = []
    for c in page:
        c.credit = credit.get(c.seller_id)
        if words and not c.where:
            c.text_score, c.where = _text_score(words, c.title, c.description)
        why = [c.where or "nearby", fmt_km(c.km).lstrip("~")]
        if c.credit is not None:
            why.append(f"credit {c.credit}")
        band = bands.get((c.category, c.unit))
        if band is not None and band.p50:
            diff = round((c.price - band.p50) * 100 / band.p50)
            if diff <= -5:
                why.append(f"{-diff}% under the suggested price")
            elif diff >= 5:
                why.append(f"{diff}% over the suggested price")
            else:
                why.append("at the suggested price")
        hits.append(
            Hit(
                id=c.id,
                title=c.title,
                kind=c.kind,
                category=c.category,
                price=c.price,
                unit=c.unit,
                seller=handles.get(c.seller_id, "?"),
                distance_km=round_km(c.km),
                distance=fmt_km(c.km),
                credit=c.credit,
                why=" · ".join(why),
            )
        )
    return Results(
        query=query.text,
        centre=centre,
        radius_km=query.radius_km,
        sort=str(query.sort),
        page=query.page,
        has_more=has_more,
        hits=tuple(hits),
    )


def naive_ids(session: Session, me: User, query: Query) -> list[int]:
    """The baseline plan for the bench: every text match (or every row), then distance."""
    query = check_query(query)
    raw = _raw(session)
    words = query_tokens(query.text)
    blocked = contacts.blocked_by(session, me.id)
    extra, args = _filters(query)
    tag_parts = []
    if query.kind is not None:
        tag_parts.append([f"k{query.kind}"])
    if query.category is not None:
        tag_parts.append([_category_tag(query.category)])
    match = _fts_string(words, tag_parts)
    if match is None:
        sql = (
            "SELECT l.id, l.price, l.seller_id, l.lat, l.lon FROM listing l"
            " WHERE l.status = 'active' AND l.seller_id <> ?"
        )
        params = [me.id]
    else:
        sql = (
            "SELECT l.id, l.price, l.seller_id, l.lat, l.lon FROM search_fts f"
            " JOIN listing l ON l.id = f.rowid"
            " WHERE search_fts MATCH ? AND l.status = 'active' AND l.seller_id <> ?"
        )
        params = [match, me.id]
    rows = []
    for lid, _price, seller_id, lat, lon in raw.execute(sql + extra, params + args):
        km = haversine_km(query.lat, query.lon, lat, lon)
        if km <= query.radius_km and seller_id not in blocked:
            rows.append((km, lid))
    rows.sort()
    start = (query.page - 1) * query.page_size
    return [lid for _, lid in rows[start : start + query.page_size]]
