"""Nearby search: text and place intersect inside one FTS5 index.

Design (why it is shaped like this):

- One FTS5 table, `search_fts`, two columns: `words` holds the listing's title and
  description as tokens we compute here in Python; `tags` holds its kind, category
  and price bucket. The rowid is not the listing id but `geo_key`: a Z-order (Morton)
  code of the place in the high bits, the listing id in the low bits. Listings close
  on the map are close in rowid order, so a query box is covered by a few rowid
  ranges and each range is one `MATCH … AND rowid BETWEEN lo AND hi`: FTS5 seeks to
  `lo` in every term's doclist and stops at `hi`, so only listings that match the
  words *and* lie in the cells ever leave the index. Exact distance is then computed
  on that small set (the listing row is one primary-key lookup: id = rowid & ID_MASK).
- Tokens are ours, not the tokenizer's: latin/digit runs are folded (NFKC, casefold,
  no diacritics); runs of Chinese/Japanese/Korean characters become unigrams and
  bigrams, the usual CJK indexing, so the two-character query 钢琴 finds 钢琴课 and
  少儿钢琴课. Every query token is a prefix query, so "pian" finds "piano" while a
  person types: 2-3 characters read FTS5's prefix index; longer words expand to the
  terms they start (from `search_terms`), because FTS5 would otherwise merge the
  prefix's whole doclist on every query instead of seeking.
- Status, price and seller are read from the listing row for the few candidates, so
  pausing or selling out never touches the index. Text, category, kind, price and
  place changes re-index the row.
- Sorting: nearest/best grow the radius (each step aimed at two pages from the term
  counts and the last step's matches) and stop as soon as nobody further out could
  still make the page; cheapest reads price buckets upwards, in groups sized by how
  many listings they hold, and stops when a page is full; credit reads the whole
  radius (credit is not indexed).
- The index is derived data. Triggers on `listing` queue changed ids in
  `search_dirty`; `catch_up` (called by the shop services, seeding and before a
  search when something is queued) re-indexes exactly those rows; `rebuild`
  (`p2pmarket reindex`) recreates everything from the listing table. A store with
  an older INDEX_VERSION is re-queued on open.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from functools import lru_cache

from sqlmodel import Session

from p2pmarket import text as text_mod
from p2pmarket.errors import Invalid, StoreFailure
from p2pmarket.models import Kind, User
from p2pmarket.services.market import catalog
from p2pmarket.services.trust import contacts, credit
from p2pmarket.store.sqlite import search_index

EARTH_KM = 6371.0088
KM_PER_DEG = math.pi * EARTH_KM / 180
RADIUS_DEFAULT_KM = 3.0
RADIUS_MAX_KM = 500.0
# How far an empty search looks for the nearest match to tell about (bounded: it runs on
# every keystroke that finds nothing).
BEYOND_MAX_KM = 50.0
PAGE_SIZE = 20
QUERY_MAX = 200
QUERY_TOKENS_MAX = 8
FIRST_STEP_KM = 0.1
STEP_FACTOR = 3.0
# Growing the radius (see `_grow`): each step aims at GROW_AIM pages' worth of matches,
# the first as if the place were as dense as a city centre (the bench market's centres
# hold about this many listings per km²), each next one from what the last step found,
# growing the radius at least ×GROW_MIN, at most ×GROW_MAX.
GROW_AIM = 2.0
DENSE_PER_KM2 = 10_000
GROW_MIN = 1.5
GROW_MAX = 9.0
# "best": text score times this distance decay (1 at the door, 0.5 at 1 km).
DECAY_KM = 1.0
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


# Geographic keys: the index's rowid is a Z-order (Morton) code of the place, then the
# listing id. Listings close on the map are close in rowid order, so a map cell is one
# rowid range and FTS5 seeks straight to it in every term's doclist.
AXIS_BITS = 18
ID_BITS = 27
ID_MASK = (1 << ID_BITS) - 1
AXIS_CELLS = 1 << AXIS_BITS
# A query covers its box with at most this many Z-cells (merged into fewer rowid ranges).
MAX_CELLS = 16


def _spread(v: int) -> int:
    """Bits of v (< 2**32) moved to the even positions: 0b1011 → 0b1000101."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


# _spread of every 9-bit value: an axis coordinate (18 bits) is spread in two lookups.
_SPREAD_9 = tuple(_spread(v) for v in range(512))


def _spread_axis(v: int) -> int:
    return _SPREAD_9[v & 511] | (_SPREAD_9[v >> 9] << 18)


def _grid(lat: float, lon: float) -> tuple[int, int]:
    x = math.floor((lon + 180.0) / 360.0 * AXIS_CELLS)
    y = math.floor((lat + 90.0) / 180.0 * AXIS_CELLS)
    return min(max(x, 0), AXIS_CELLS - 1), min(max(y, 0), AXIS_CELLS - 1)


def geo_key(lat: float, lon: float, listing_id: int) -> int:
    """The index rowid of a listing: Morton code of its place, then its id."""
    if not 0 < listing_id <= ID_MASK:
        raise StoreFailure(
            "search_id_range", f"Listing #{listing_id} is beyond what the search index can key."
        )
    x, y = _grid(lat, lon)
    return ((_spread_axis(x) | (_spread_axis(y) << 1)) << ID_BITS) | listing_id


def _key_ranges(box: Box | None) -> list[tuple[int, int]]:
    """Inclusive rowid ranges whose listings include every listing inside the box."""
    full = [(0, (1 << (2 * AXIS_BITS + ID_BITS)) - 1)]
    if box is None or box.wraps or box.lon1 - box.lon0 >= 360:
        return full
    x0, y0 = _grid(box.lat0, box.lon0)
    x1, y1 = _grid(box.lat1, box.lon1)
    level = 0
    for k in range(AXIS_BITS + 1):
        shift = AXIS_BITS - k
        if ((x1 >> shift) - (x0 >> shift) + 1) * ((y1 >> shift) - (y0 >> shift) + 1) > MAX_CELLS:
            break
        level = k
    shift = AXIS_BITS - level
    low_bits = 2 * shift + ID_BITS
    xs = [_spread_axis(cx) for cx in range(x0 >> shift, (x1 >> shift) + 1)]
    ys = [_spread_axis(cy) << 1 for cy in range(y0 >> shift, (y1 >> shift) + 1)]
    codes = sorted(x | y for x in xs for y in ys)
    ranges: list[tuple[int, int]] = []
    for code in codes:
        lo, hi = code << low_bits, ((code + 1) << low_bits) - 1
        if ranges and ranges[-1][1] + 1 == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges


# Price buckets: a token per bucket lets "cheapest" read the cheapest buckets first and
# stop once a page is full. Bounds are integers (minor units), so bucket order is price order.
PRICE_BOUNDS = tuple(sorted({round(10 * 1.25**i) for i in range(120)}))


def price_bucket(price: int) -> int:
    return bisect.bisect_right(PRICE_BOUNDS, price)


def _category_tag(slug: str) -> str:
    return "c" + slug.replace("-", "")


def doc(listing_row: tuple) -> tuple[str, str]:
    """(words, tags) for (title, description, category, kind, price)."""
    title, description, category, kind, price = listing_row
    words = tokens(title) + (tokens(description) if description else ())
    tags = (f"k{kind}", _category_tag(category), f"p{price_bucket(price)}")
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


# ---------------------------------------------------------------- the index


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


_DOC_COLUMNS = "title, description, category, kind, price, lat, lon"


def _index_rows(raw: sqlite3.Connection, rows: Iterable[tuple]) -> int:
    batch, keys, seen = [], [], Counter()
    for lid, title, description, category, kind, price, lat, lon in rows:
        key = geo_key(lat, lon, lid)
        words, tags = doc((title, description, category, kind, price))
        batch.append((key, words, tags))
        keys.append((lid, key))
        seen.update(words.split())
        seen.update(tags.split())
    # FTS5 flushes its pending terms whenever a rowid goes backwards: insert in key order.
    batch.sort()
    raw.executemany("INSERT INTO search_fts (rowid, words, tags) VALUES (?, ?, ?)", batch)
    raw.executemany("INSERT OR REPLACE INTO search_key (listing_id, key) VALUES (?, ?)", keys)
    raw.executemany(
        "INSERT INTO search_terms (term, docs) VALUES (?, ?)"
        " ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs",
        seen.items(),
    )
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
        (key, lid)
        for lid, key in raw.execute(
            "SELECT d.listing_id, k.key FROM search_dirty d"
            " JOIN search_key k ON k.listing_id = d.listing_id WHERE d.fresh = 0"
        )
    ]
    raw.executemany("DELETE FROM search_fts WHERE rowid = ?", [(key,) for key, _ in stale])
    raw.executemany("DELETE FROM search_key WHERE listing_id = ?", [(lid,) for _, lid in stale])
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
    _optimize(raw, done)
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
    raw.execute("DROP INDEX IF EXISTS ix_listing_price_strips")
    # A bigger page cache for the load (the listing table's own indexes grow in random order).
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
    return raw.execute("SELECT coalesce(max(id), 0) FROM listing").fetchone()[0]


def resume(session: Session, after_id: int, progress: Progress | None = None) -> int:
    """After a bulk load: index listings with id > after_id, recreate triggers and indexes."""
    raw = _raw(session)
    total = raw.execute("SELECT count(*) FROM listing WHERE id > ?", (after_id,)).fetchone()[0]
    done = _index_since(raw, after_id, total, progress)
    _optimize(raw, done)
    for statement in search_index.DDL:
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


# After indexing this many listings at once, merge FTS5's segments into one b-tree.
OPTIMIZE_AFTER = 50_000


def _optimize(raw: sqlite3.Connection, count: int) -> None:
    if count >= OPTIMIZE_AFTER:
        raw.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")


def rebuild(session: Session, progress: Progress | None = None) -> int:
    """Recreate the whole index from the listing table (derived data, never the truth)."""
    raw = _raw(session)
    for table in ("search_fts", "search_key", "search_terms", "search_dirty"):
        raw.execute(f"DELETE FROM {table}")
    total = raw.execute("SELECT count(*) FROM listing").fetchone()[0]
    done = _index_since(raw, 0, total, progress)
    _optimize(raw, done)
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
    # With nothing within the radius: the rounded distance of the nearest match within
    # BEYOND_MAX_KM, and the whole radius that reaches it (None: none that close either).
    nearest_beyond_km: float | None = None
    widen_to_km: int | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["hits"] = [h.to_json() for h in self.hits]
        return data

    def nothing_found(self) -> str:
        """The sentence for an empty first page: what was searched, and how far to widen."""
        said = f"Nothing found within {self.radius_km:g} km of {self.centre}"
        if self.nearest_beyond_km is None:
            return f"{said} (nor within {BEYOND_MAX_KM:g} km)."
        return (
            f"{said}; the nearest is {fmt_km(self.nearest_beyond_km)} away: "
            f"widen the radius to {self.widen_to_km} km."
        )


def parse_sort(value: str) -> Sort:
    try:
        return Sort(value.strip().lower())
    except ValueError:
        raise Invalid(
            "sort_format", f"Sort {value[:20]!r} must be best, nearest, cheapest or credit."
        ) from None


def parse_min_credit(value: str) -> int | None:
    """What a person typed as the minimum credit: empty is none (check_query checks the range)."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise Invalid(
            "credit_format",
            f"Minimum credit {text_mod.strip_controls(value)[:20]!r} must be a whole number, "
            "like 600.",
        )
    return int(value)


def parse_near(value: str) -> tuple[float, float]:
    """'31.23,121.47' → (lat, lon)."""
    from p2pmarket.services.trust.accounts import check_location

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
        query = replace(query, category=catalog.category(query.category).slug)
    return query


def seller_credit(session: Session, seller_ids: Iterable[int]) -> dict[int, int | None]:
    """Published transaction credit of each seller; None when the seller does not publish it.

    One query for who publishes credit (User.pub_credit, the published-facts rule) and one
    batched read of the recorded scores for those sellers only.
    """
    ids = sorted(set(seller_ids))
    if not ids:
        return {}
    raw = _raw(session)
    shown = [
        uid
        for (uid,) in raw.execute(
            "SELECT id FROM user WHERE pub_credit AND id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
    ]
    scores = credit.scores_for(session, shown)
    return {uid: scores[uid].transaction if uid in scores else None for uid in ids}


def _fts_string(parts: list[str]) -> str | None:
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


_COLUMNS = (
    "l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id, l.lat, l.lon"
)
# CROSS JOIN keeps the index outside: FTS5 seeks to the rowid range, the listing row
# (status, price, seller, exact place) is then one primary-key lookup per match.
_FROM = f"FROM search_fts f CROSS JOIN listing l ON l.id = (f.rowid & {ID_MASK})"


def _filters(query: Query) -> tuple[str, list]:
    sql, args = "", []
    if query.min_price is not None:
        sql += " AND l.price >= ?"
        args.append(query.min_price)
    if query.max_price is not None:
        sql += " AND l.price <= ?"
        args.append(query.max_price)
    return sql, args


def _text_score(words: tuple[str, ...], title: str) -> tuple[float, str]:
    """1.0 per exact title word, 0.7 per title prefix, 0.4 per description-only word.

    Every word matched the title or the description already (the index said so): a word
    the title lacks is in the description.

    A one-character word is a prefix being typed, never exact (see `_exact`).
    """
    if not words:
        return 1.0, ""
    title_tokens = tokens(title)
    total, in_title = 0.0, True
    for w in words:
        if _exact(w) and w in title_tokens:
            total += 1.0
        elif any(t.startswith(w) for t in title_tokens):
            total += PREFIX_SCORE
        else:
            total += 0.4
            in_title = False
    return total / len(words), "title match" if in_title else "description match"


# A typed word of this many characters reads FTS5's own prefix index ('2 3').
PREFIX_INDEXED = (2, 3)
# Longer words expand to the indexed terms they start (up to this many), because FTS5
# merges a prefix's whole doclist without a prefix index, but seeks exact terms.
EXPAND_MAX = 16


def _word(raw: sqlite3.Connection, word: str) -> tuple[str | None, int, bool]:
    """(FTS5 expression, an upper bound of listings matching, is `word` itself a term).

    The expression is "" for a one-character word that starts many terms: FTS5 has no
    prefix index that short and would merge most of the index (the first key a person
    types); such a word is checked on the candidates instead (see `_Plan.post`).
    """
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    terms = raw.execute(
        "SELECT term, docs FROM search_terms WHERE term >= ? AND term < ?", (word, upper)
    ).fetchall()
    if not terms:
        return None, 0, False
    docs = sum(d for _, d in terms)
    exact = any(t == word for t, _ in terms)
    if len(word) in PREFIX_INDEXED:
        return f'"{word}"*', docs, exact
    if len(terms) > EXPAND_MAX:
        return ("" if len(word) == 1 else f'"{word}"*'), docs, exact
    return "(" + " OR ".join(f'"{t}"' for t, _ in terms) + ")", docs, exact


def _exact(word: str) -> bool:
    """Whether `word` can score as a whole word: not one character (the first key typed).

    Stray one-letter tokens ("lin's" holds "s") would otherwise make the first key's
    best-first search hunt the whole radius for them before it could stop.
    """
    return len(word) > 1


def _term_docs(raw: sqlite3.Connection, term: str) -> int:
    row = raw.execute("SELECT docs FROM search_terms WHERE term = ?", (term,)).fetchone()
    return row[0] if row else 0


@dataclass
class _Plan:
    """One search: the FTS5 expression (None: no text, no tag) and an estimate of its size."""

    match: list[str]
    estimate: int | None
    best_text: float
    # Words left out of `match`, each of which must prefix a token of the candidate.
    post: tuple[str, ...] = ()
    # How many listings the index holds, and about which share of them may match.
    indexed: int = 0
    share: float = 1.0


def _plan(raw: sqlite3.Connection, query: Query, words: tuple[str, ...]) -> _Plan | None:
    """None when some word matches no indexed term at all (nothing can match)."""
    parts, estimates, best, post = [], [], [], []
    for w in words:
        expr, docs, exact = _word(raw, w)
        if expr is None:
            return None
        if expr:
            parts.append(expr)
        else:
            post.append(w)
        estimates.append(docs)
        best.append(1.0 if exact and _exact(w) else PREFIX_SCORE)
    match = [f"words : ({' AND '.join(parts)})"] if parts else []
    for tag in (
        f"k{query.kind}" if query.kind is not None else None,
        _category_tag(query.category) if query.category is not None else None,
    ):
        if tag is not None:
            match.append(f"tags : {tag}")
            estimates.append(_term_docs(raw, tag))
    estimate = min(estimates) if estimates else None
    # Every listing holds exactly one kind tag.
    indexed = raw.execute(
        "SELECT coalesce(sum(docs), 0) FROM search_terms"
        " WHERE term IN (SELECT value FROM json_each(?))",
        (json.dumps([f"k{k}" for k in Kind]),),
    ).fetchone()[0]
    return _Plan(
        match=match,
        estimate=estimate,
        best_text=sum(best) / len(best) if best else 1.0,
        post=tuple(post),
        indexed=indexed,
        share=min(1.0, max(estimate, 1) / indexed) if estimate is not None and indexed else 1.0,
    )


def _has_prefixes(words: tuple[str, ...], title: str, description: str) -> bool:
    """What FTS5 would answer for `"w"*` on the words column (title + description tokens)."""
    toks = tokens(title) + (tokens(description) if description else ())
    return all(any(t.startswith(w) for t in toks) for w in words)


def _fetch(
    raw: sqlite3.Connection,
    query: Query,
    me_id: int,
    plan: _Plan,
    radius_km: float,
    extra_match: str | None = None,
) -> list[_Candidate]:
    """Active listings of others within radius_km that match, read range by range."""
    box = Box.around(query.lat, query.lon, radius_km)
    match = _fts_string([*plan.match, extra_match] if extra_match else plan.match)
    extra, args = _filters(query)
    where = "f.rowid BETWEEN ? AND ? AND l.status = 'active' AND l.seller_id <> ?"
    where += extra + " AND l.lat BETWEEN ? AND ? AND l.lon BETWEEN ? AND ?"
    tail = [me_id, *args, box.lat0, box.lat1, box.lon0, box.lon1]
    if match is None:
        sql, head = f"SELECT {_COLUMNS} {_FROM} WHERE {where}", []
    else:
        sql, head = f"SELECT {_COLUMNS} {_FROM} WHERE search_fts MATCH ? AND {where}", [match]
    found = []
    lat0, lon0 = query.lat, query.lon
    for lo, hi in _key_ranges(box):
        for lid, title, desc, kind, cat, unit, price, seller_id, lat, lon in raw.execute(
            sql, [*head, lo, hi, *tail]
        ):
            km = haversine_km(lat0, lon0, lat, lon)
            if km <= radius_km:
                found.append(_Candidate(lid, title, desc, kind, cat, unit, price, seller_id, km))
    return found


def _sort_key(sort: Sort) -> Callable[[_Candidate], tuple]:
    if sort is Sort.nearest:
        return lambda c: (c.km, c.id)
    if sort is Sort.cheapest:
        return lambda c: (c.price, c.km, c.id)
    if sort is Sort.credit:
        return lambda c: (c.credit is None, -(c.credit or 0), c.km, c.id)
    return lambda c: (-c.score, c.km, c.id)


# Under this many possible matches (an upper bound from the term counts) one read of the
# whole radius beats growing it or walking price buckets.
SMALL_MATCH = 400


def find(session: Session, me: User, query: Query) -> tuple[list[_Candidate], bool]:
    """The matching listings of one page (in order) and whether more follow."""
    query = check_query(query)
    raw = _raw(session)
    words = query_tokens(query.text)
    plan = _plan(raw, query, words)
    if plan is None:
        return [], False
    blocked = contacts.blocked_by(session, me.id)
    need = query.page * query.page_size + 1
    key = _sort_key(query.sort)
    small = plan.estimate is not None and plan.estimate <= SMALL_MATCH

    def keep(rows: list[_Candidate]) -> list[_Candidate]:
        if plan.post:
            rows = [c for c in rows if _has_prefixes(plan.post, c.title, c.description)]
        return _keep(session, query, words, blocked, rows)

    if query.sort in (Sort.nearest, Sort.best) and not small:
        found = _grow(raw, query, me.id, plan, need, key, keep)
    elif query.sort is Sort.cheapest and not small:
        found = _cheapest_first(raw, query, me.id, plan, need, keep)
    else:
        found = keep(_fetch(raw, query, me.id, plan, query.radius_km))
    found.sort(key=key)
    start = (query.page - 1) * query.page_size
    return found[start : start + query.page_size], len(found) > start + query.page_size


def _grow(raw, query: Query, me_id: int, plan: _Plan, need: int, key, keep) -> list[_Candidate]:
    """Nearest and best: grow the radius; past radius r nobody scores better than at r.

    Every step costs a few index seeks, so steps are aimed: the first radius would
    hold GROW_AIM pages in a city centre if the words were spread like the listings
    (wider for rarer words), and each next one is sized from how many the last one
    found (matches grow with the area, the radius squared).
    """
    dense = math.pi * DENSE_PER_KM2 * plan.share
    r = min(query.radius_km, math.sqrt(need * GROW_AIM / dense))
    while True:
        found = keep(_fetch(raw, query, me_id, plan, r))
        if r >= query.radius_km:
            return found
        if len(found) >= need:
            found.sort(key=key)
            outside = plan.best_text / (1 + r / DECAY_KM)
            if query.sort is Sort.nearest or found[need - 1].score >= outside:
                return found
            r *= STEP_FACTOR
        else:
            # Nothing found yet counts as two: a jump of ×sqrt(need) or so.
            aim = math.sqrt(need * GROW_AIM / max(len(found), 2))
            r *= min(GROW_MAX, max(GROW_MIN, aim))
        if r * GROW_MIN >= query.radius_km:
            r = query.radius_km


def _cheapest_first(raw, query: Query, me_id: int, plan: _Plan, need: int, keep):
    """Cheapest: read price buckets upwards, a group at a time, until a page is full.

    Every listing in a later bucket costs more than every listing read so far, so the
    first `need` by price are final once that many are in hand. Each step re-reads the
    words' entries in the radius, so groups are sized by the listings their buckets
    hold (search_terms): the first to give GROW_AIM pages if the place were a city
    centre, each next one from how many matched per listing read so far.
    """
    first = price_bucket(query.min_price) if query.min_price is not None else 0
    last = price_bucket(query.max_price) if query.max_price is not None else len(PRICE_BOUNDS)
    # Buckets no listing was ever indexed in are skipped (the term table is a superset).
    held = {
        int(term[1:]): docs
        for term, docs in raw.execute(
            "SELECT term, docs FROM search_terms WHERE term >= 'p' AND term < 'q'"
        )
        if term[1:].isdigit()
    }
    buckets = [b for b in range(first, last + 1) if b in held]
    nearby = min(1.0, math.pi * DENSE_PER_KM2 * query.radius_km**2 / max(plan.indexed, 1))
    rate = plan.share * nearby
    found: list[_Candidate] = []
    at, read = 0, 0
    while at < len(buckets):
        goal = max(2 * read, need * GROW_AIM / rate)
        group = []
        while at < len(buckets) and (not group or read < goal):
            group.append(buckets[at])
            read += held[buckets[at]]
            at += 1
        tags = "tags : (" + " OR ".join(f"p{b}" for b in group) + ")"
        found += keep(_fetch(raw, query, me_id, plan, query.radius_km, tags))
        if len(found) >= need:
            break
        rate = len(found) / read if found else rate / GROW_MAX
    return found


def _keep(
    session: Session,
    query: Query,
    words: tuple[str, ...],
    blocked: set[int],
    candidates: Iterable[_Candidate],
) -> list[_Candidate]:
    kept = [c for c in candidates if c.seller_id not in blocked]
    if query.min_credit is not None or query.sort is Sort.credit:
        credit_of = seller_credit(session, {c.seller_id for c in kept})
        for c in kept:
            c.credit = credit_of.get(c.seller_id)
        if query.min_credit is not None:
            kept = [c for c in kept if c.credit is not None and c.credit >= query.min_credit]
    if words and query.sort is Sort.best:
        for c in kept:
            c.text_score, c.where = _text_score(words, c.title)
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
    """One page of nearby listings for `me`, each with a rounded distance and a why.

    Both dialects: `find`, `seller_handles` and `seller_credit` are theirs.
    """
    query = check_query(query)
    page, has_more = find(session, me, query)
    results = page_results(session, query, page, has_more, centre)
    results = with_nearest_beyond(results, query, lambda wider: find(session, me, wider))
    if compare_prices:
        results = price_page(session, clock, results, lat=query.lat, lon=query.lon)
    return results


def with_nearest_beyond(results: Results, query: Query, find_page) -> Results:
    """An empty first page learns how far the nearest match is (both dialects)."""
    if results.hits or query.page != 1 or query.radius_km >= BEYOND_MAX_KM:
        return results
    wider = replace(query, radius_km=BEYOND_MAX_KM, sort=Sort.nearest, page_size=1)
    page, _more = find_page(wider)
    if not page:
        return results
    km = page[0].km
    return replace(results, nearest_beyond_km=round_km(km), widen_to_km=math.ceil(km))


def seller_handles(session: Session, seller_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(seller_ids))
    if not ids:
        return {}
    return dict(
        _raw(session).execute(
            f"SELECT id, handle FROM user WHERE id IN ({','.join('?' * len(ids))})", ids
        )
    )


def page_results(
    session: Session,
    query: Query,
    page: list[_Candidate],
    has_more: bool,
    centre: str,
) -> Results:
    """A found page as the person sees it (both dialects): distance, credit, why.

    The why's price comparison is `price_page`'s, added to a page already found.
    """
    words = query_tokens(query.text)
    ids = {c.seller_id for c in page}
    handles = seller_handles(session, ids)
    credit_of = seller_credit(session, ids)
    hits = []
    for c in page:
        c.credit = credit_of.get(c.seller_id)
        if words and not c.where:
            c.text_score, c.where = _text_score(words, c.title)
        why = [c.where or "nearby", fmt_km(c.km).lstrip("~")]
        if c.credit is not None:
            why.append(f"credit {c.credit}")
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


def price_page(session: Session, clock, results: Results, *, lat: float, lon: float) -> Results:
    """A found page with each price compared with its suggested band around (lat, lon).

    The last part of each why; a page is found first and priced after (the bands take
    longest the first time a category shows up), so the search is never run twice.
    """
    from p2pmarket.services.market import pricing

    bands = pricing.suggest_cached(
        session,
        clock,
        [(h.category, h.unit) for h in results.hits],
        lat=lat,
        lon=lon,
        cap=WHY_PRICE_CAP,
    )
    return replace(
        results, hits=tuple(_priced(h, bands.get((h.category, h.unit))) for h in results.hits)
    )


def _priced(hit: Hit, band) -> Hit:
    if band is None or not band.p50:
        return hit
    diff = round((hit.price - band.p50) * 100 / band.p50)
    if diff <= -5:
        said = f"{-diff}% under the suggested price"
    elif diff >= 5:
        said = f"{diff}% over the suggested price"
    else:
        said = "at the suggested price"
    return replace(hit, why=f"{hit.why} · {said}")


def naive_ids(session: Session, me: User, query: Query) -> list[int]:
    """The baseline plan for the bench: every text match (or every row), then distance.

    The plain FTS5 query for the words (and kind/category tags), every match joined to
    its listing and checked by haversine; with no text and no tag, every listing row.
    """
    query = check_query(query)
    raw = _raw(session)
    words = query_tokens(query.text)
    blocked = contacts.blocked_by(session, me.id)
    extra, args = _filters(query)
    parts = [f"words : ({' AND '.join(f'{chr(34)}{w}{chr(34)}*' for w in words)})"] if words else []
    if query.kind is not None:
        parts.append(f"tags : k{query.kind}")
    if query.category is not None:
        parts.append(f"tags : {_category_tag(query.category)}")
    match = _fts_string(parts)
    if match is None:
        sql = (
            "SELECT l.id, l.price, l.seller_id, l.lat, l.lon FROM listing l"
            " WHERE l.status = 'active' AND l.seller_id <> ?"
        )
        params = [me.id]
    else:
        sql = (
            f"SELECT l.id, l.price, l.seller_id, l.lat, l.lon {_FROM}"
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


# ---------------------------------------------------------------- other databases
# PostgreSQL has its own implementation of this interface (services/market/search_pg.py);
# each public function above is looked up through this dispatch by dialect.


def _per_dialect(name: str):
    from functools import wraps

    sqlite_impl = globals()[name]

    @wraps(sqlite_impl)
    def dispatch(session, *args, **kwargs):
        if session.connection().dialect.name == "postgresql":
            from p2pmarket.services.market import search_pg

            return getattr(search_pg, name)(session, *args, **kwargs)
        return sqlite_impl(session, *args, **kwargs)

    return dispatch


for _name in (
    "pending",
    "catch_up",
    "suspend",
    "resume",
    "rebuild",
    "seller_credit",
    "seller_handles",
    "find",
    "naive_ids",
):
    globals()[_name] = _per_dialect(_name)
