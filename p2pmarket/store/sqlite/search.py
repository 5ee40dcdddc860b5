"""Nearby search on SQLite: text and place intersect inside one FTS5 index.

- One FTS5 table, `search_fts`, two columns: `words` holds the listing's title and
  description as tokens (p2pmarket/tokens.py); `tags` holds its kind, category and
  price bucket. The rowid is not the listing id but `geo.geo_key`: a Z-order (Morton)
  code of the place in the high bits, the listing id in the low bits. Listings close
  on the map are close in rowid order, so a query box is covered by a few rowid
  ranges and each range is one `MATCH … AND rowid BETWEEN lo AND hi`: FTS5 seeks to
  `lo` in every term's doclist and stops at `hi`, so only listings that match the
  words *and* lie in the cells ever leave the index. Exact distance is then computed
  on that small set (the listing row is one primary-key lookup: id = rowid & ID_MASK).
- Every query token is a prefix query, so "pian" finds "piano" while a person types:
  2-3 characters read FTS5's prefix index; longer words expand to the terms they
  start (from `search_terms`), because FTS5 would otherwise merge the prefix's whole
  doclist on every query instead of seeking.
- Status, price and seller are read from the listing row for the few candidates, so
  pausing or selling out never touches the index. Text, category, kind, price and
  place changes re-index the row.
- The index is derived data. Triggers on `listing` queue changed ids in
  `search_dirty`; `catch_up` (called by the shop services, seeding and before a
  search when something is queued) re-indexes exactly those rows; `rebuild`
  (`p2pmarket reindex`) recreates everything from the listing table. A store with
  an older INDEX_VERSION is re-queued on open (search_index.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlmodel import Session

from p2pmarket import tokens as tok
from p2pmarket.geo import ID_MASK, Box, geo_key, haversine_km, key_ranges
from p2pmarket.models import Kind
from p2pmarket.store.ports import Area, Progress, Row, TextPlan
from p2pmarket.store.sqlite import search_index

BATCH = 5_000
BULK_CACHE_KB = 64 * 1024
# After indexing this many listings at once, merge FTS5's segments into one b-tree.
OPTIMIZE_AFTER = 50_000
# A typed word of this many characters reads FTS5's own prefix index ('2 3').
PREFIX_INDEXED = (2, 3)
# Longer words expand to the indexed terms they start (up to this many), because FTS5
# merges a prefix's whole doclist without a prefix index, but seeks exact terms.
EXPAND_MAX = 16

_DOC_COLUMNS = "title, description, category, kind, price, lat, lon"
_COLUMNS = (
    "l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id, l.lat, l.lon"
)
# CROSS JOIN keeps the index outside: FTS5 seeks to the rowid range, the listing row
# (status, price, seller, exact place) is then one primary-key lookup per match.
FROM = f"FROM search_fts f CROSS JOIN listing l ON l.id = (f.rowid & {ID_MASK})"


def raw(session: Session) -> sqlite3.Connection:
    return session.connection().connection.dbapi_connection


def doc(listing_row: tuple) -> tuple[str, str]:
    """(words, tags) for (title, description, category, kind, price)."""
    title, description, category, kind, price = listing_row
    return " ".join(tok.listing_tokens(title, description)), " ".join(
        tok.tags(category, kind, price)
    )


def fts_string(parts: list[str]) -> str | None:
    return " AND ".join(parts) if parts else None


def price_filters(min_price: int | None, max_price: int | None) -> tuple[str, list]:
    sql, args = "", []
    if min_price is not None:
        sql += " AND l.price >= ?"
        args.append(min_price)
    if max_price is not None:
        sql += " AND l.price <= ?"
        args.append(max_price)
    return sql, args


class SqliteSearchIndex:
    # ------------------------------------------------------------ keeping the index

    def pending(self, session: Session) -> int:
        return raw(session).execute("SELECT count(*) FROM search_dirty").fetchone()[0]

    def catch_up(self, session: Session, progress: Progress | None = None) -> int:
        session.flush()
        conn = raw(session)
        total = conn.execute("SELECT count(*) FROM search_dirty").fetchone()[0]
        if not total:
            return 0
        stale = [
            (key, lid)
            for lid, key in conn.execute(
                "SELECT d.listing_id, k.key FROM search_dirty d"
                " JOIN search_key k ON k.listing_id = d.listing_id WHERE d.fresh = 0"
            )
        ]
        conn.executemany("DELETE FROM search_fts WHERE rowid = ?", [(key,) for key, _ in stale])
        conn.executemany(
            "DELETE FROM search_key WHERE listing_id = ?", [(lid,) for _, lid in stale]
        )
        done = 0
        last = 0
        while True:
            rows = conn.execute(
                f"SELECT l.id, {_DOC_COLUMNS} FROM search_dirty d"
                " JOIN listing l ON l.id = d.listing_id"
                " WHERE d.listing_id > ? ORDER BY d.listing_id LIMIT ?",
                (last, BATCH),
            ).fetchall()
            if not rows:
                break
            done += _index_rows(conn, rows)
            last = rows[-1][0]
            if progress:
                progress(done, total)
        conn.execute("DELETE FROM search_dirty")
        _optimize(conn, done)
        if progress:
            progress(total, total)
        return done

    def suspend(self, session: Session) -> int:
        """Before a bulk load: drop the triggers and the price index (rebuilt by `resume`).

        Maintaining them row by row makes a million-row seed several times slower than
        building them once afterwards. Both calls belong in the same write transaction,
        so a failed load rolls the drops back too. Returns the last listing id before the load.
        """
        conn = raw(session)
        for name in ("search_listing_insert", "search_listing_update", "search_listing_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute("DROP INDEX IF EXISTS ix_listing_price_strips")
        # A bigger page cache for the load (the listing table's own indexes grow in random order).
        conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KB}")
        return conn.execute("SELECT coalesce(max(id), 0) FROM listing").fetchone()[0]

    def resume(self, session: Session, after_id: int, progress: Progress | None = None) -> int:
        """After a bulk load: index listings with id > after_id, recreate triggers and indexes."""
        conn = raw(session)
        total = conn.execute("SELECT count(*) FROM listing WHERE id > ?", (after_id,)).fetchone()[0]
        done = _index_since(conn, after_id, total, progress)
        _optimize(conn, done)
        for statement in search_index.DDL:
            conn.execute(statement)
        self.catch_up(session)
        conn.execute("PRAGMA cache_size = -2000")
        return done

    def rebuild(self, session: Session, progress: Progress | None = None) -> int:
        conn = raw(session)
        for table in ("search_fts", "search_key", "search_terms", "search_dirty"):
            conn.execute(f"DELETE FROM {table}")
        total = conn.execute("SELECT count(*) FROM listing").fetchone()[0]
        done = _index_since(conn, 0, total, progress)
        _optimize(conn, done)
        if progress:
            progress(total, total)
        return done

    # ------------------------------------------------------------ reading it

    def plan(
        self, session: Session, words: tuple[str, ...], kind: str | None, category: str | None
    ) -> TextPlan | None:
        conn = raw(session)
        parts, estimates, exact, post = [], [], [], []
        for w in words:
            expr, docs, is_term = _word(conn, w)
            if expr is None:
                return None
            if expr:
                parts.append(expr)
            else:
                post.append(w)
            estimates.append(docs)
            exact.append(is_term)
        match = [f"words : ({' AND '.join(parts)})"] if parts else []
        for tag in (
            tok.kind_tag(kind) if kind is not None else None,
            tok.category_tag(category) if category is not None else None,
        ):
            if tag is not None:
                match.append(f"tags : {tag}")
                estimates.append(_term_docs(conn, tag))
        # Every listing holds exactly one kind tag.
        indexed = conn.execute(
            "SELECT coalesce(sum(docs), 0) FROM search_terms"
            " WHERE term IN (SELECT value FROM json_each(?))",
            (json.dumps([tok.kind_tag(k) for k in Kind]),),
        ).fetchone()[0]
        return TextPlan(
            terms=match,
            estimate=min(estimates) if estimates else None,
            exact=tuple(exact),
            post=tuple(post),
            indexed=indexed,
        )

    def price_buckets(self, session: Session) -> dict[int, int]:
        return {
            int(term[1:]): docs
            for term, docs in raw(session).execute(
                "SELECT term, docs FROM search_terms WHERE term >= 'p' AND term < 'q'"
            )
            if term[1:].isdigit()
        }

    def fetch(
        self,
        session: Session,
        plan: TextPlan,
        area: Area,
        buckets: Sequence[int] | None = None,
    ) -> list[Row]:
        """Active listings of others within the radius that match, read range by range."""
        parts: list[str] = list(plan.terms)  # type: ignore[call-overload]
        if buckets is not None:
            parts.append("tags : (" + " OR ".join(tok.price_tag(b) for b in buckets) + ")")
        box = Box.around(area.lat, area.lon, area.radius_km)
        match = fts_string(parts)
        extra, args = price_filters(area.min_price, area.max_price)
        where = "f.rowid BETWEEN ? AND ? AND l.status = 'active' AND l.seller_id <> ?"
        where += extra + " AND l.lat BETWEEN ? AND ? AND l.lon BETWEEN ? AND ?"
        tail = [area.me_id, *args, box.lat0, box.lat1, box.lon0, box.lon1]
        if match is None:
            sql, head = f"SELECT {_COLUMNS} {FROM} WHERE {where}", []
        else:
            sql, head = f"SELECT {_COLUMNS} {FROM} WHERE search_fts MATCH ? AND {where}", [match]
        found: list[Row] = []
        lat0, lon0, radius_km = area.lat, area.lon, area.radius_km
        conn = raw(session)
        for lo, hi in key_ranges(box):
            for lid, title, desc, kind, cat, unit, price, seller_id, lat, lon in conn.execute(
                sql, [*head, lo, hi, *tail]
            ):
                km = haversine_km(lat0, lon0, lat, lon)
                if km <= radius_km:
                    found.append((lid, title, desc, kind, cat, unit, price, seller_id, km))
        return found


def _index_rows(conn: sqlite3.Connection, rows: Iterable[tuple]) -> int:
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
    conn.executemany("INSERT INTO search_fts (rowid, words, tags) VALUES (?, ?, ?)", batch)
    conn.executemany("INSERT OR REPLACE INTO search_key (listing_id, key) VALUES (?, ?)", keys)
    conn.executemany(
        "INSERT INTO search_terms (term, docs) VALUES (?, ?)"
        " ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs",
        seen.items(),
    )
    return len(batch)


def _index_since(conn: sqlite3.Connection, last: int, total: int, progress: Progress | None) -> int:
    done = 0
    while True:
        rows = conn.execute(
            f"SELECT id, {_DOC_COLUMNS} FROM listing WHERE id > ? ORDER BY id LIMIT ?",
            (last, BATCH * 4),
        ).fetchall()
        if not rows:
            break
        done += _index_rows(conn, rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)
    return done


def _optimize(conn: sqlite3.Connection, count: int) -> None:
    if count >= OPTIMIZE_AFTER:
        conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")


def _word(conn: sqlite3.Connection, word: str) -> tuple[str | None, int, bool]:
    """(FTS5 expression, an upper bound of listings matching, is `word` itself a term).

    The expression is "" for a one-character word that starts many terms: FTS5 has no
    prefix index that short and would merge most of the index (the first key a person
    types); such a word is checked on the candidates instead (TextPlan.post).
    """
    upper = word[:-1] + chr(ord(word[-1]) + 1)
    terms = conn.execute(
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


def _term_docs(conn: sqlite3.Connection, term: str) -> int:
    row = conn.execute("SELECT docs FROM search_terms WHERE term = ?", (term,)).fetchone()
    return row[0] if row else 0
