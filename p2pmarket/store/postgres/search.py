"""Nearby search on PostgreSQL: the same index idea as SQLite's FTS5 one, in btrees.

- `search_posting` is an inverted index: one row per (term, key), where the terms are
  a listing's tokens (p2pmarket/tokens.py) and tags (kind, category, price bucket) and
  the key is `geo.geo_key` (a Z-order code of the place, then the listing id). Its
  primary key (term, key) keeps each term's listings in map order, so a query box is a
  few key ranges and each word is one index range per map cell; the words and tags of
  a query are intersected there, before any listing row is read: text and place meet
  inside one index, as on SQLite. A word that is a prefix reads the terms it starts
  (from `search_terms`); a one-letter word that starts many is checked on the few
  candidates instead (TextPlan.post), as on SQLite. (The first version intersected a
  pg_trgm and an earthdistance index per query; at 100k listings its p95 was 17×
  SQLite's.)
- `search_terms` counts the listings holding each term, an upper bound as on SQLite:
  the services aim their radius steps and price groups with it, so both stores read
  the same steps. `search_doc` remembers each listing's key and terms, to drop its
  postings when it changes.
- Status, price and seller come from the listing row, so pausing a listing never
  touches the index. Triggers on `listing` queue changed ids in `search_dirty`;
  `catch_up` re-indexes them, `rebuild` recreates everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlmodel import Session

from p2pmarket import tokens as tok
from p2pmarket.geo import ID_MASK, Box, geo_key, haversine_km, key_ranges
from p2pmarket.models import Kind
from p2pmarket.store.ports import Area, Progress, Row, TextPlan
from p2pmarket.store.postgres.engine import reset_sequences

BATCH = 5_000

_COLUMNS = (
    "l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id, l.lat, l.lon"
)
# Tags (kind, category, price bucket) are terms too, marked so that no typed word (tokens
# are letters and digits) can start one.
TAG = "#"
# A one-letter word starting more terms than this is checked on the candidates (as SQLite).
EXPAND_MAX = 16
_DOCS = text(
    "INSERT INTO search_doc (listing_id, key, terms) SELECT * FROM unnest("
    "CAST(:ids AS integer[]), CAST(:keys AS bigint[]), CAST(:terms AS text[]))"
)
_POSTINGS = text(
    "INSERT INTO search_posting (term, key)"
    " SELECT * FROM unnest(CAST(:terms AS text[]), CAST(:keys AS bigint[]))"
)
_TERMS = text(
    "INSERT INTO search_terms (term, docs)"
    " SELECT * FROM unnest(CAST(:terms AS text[]), CAST(:docs AS integer[]))"
    " ON CONFLICT (term) DO UPDATE SET docs = search_terms.docs + excluded.docs"
)
_DROP = text(
    "DELETE FROM search_posting p USING search_doc d"
    " WHERE d.listing_id = ANY(:ids) AND p.key = d.key"
    " AND p.term = ANY(string_to_array(d.terms, ' '))"
)


def _index_rows(session: Session, rows: Iterable) -> int:
    ids, keys, docs, terms, term_keys, seen = [], [], [], [], [], Counter()
    for lid, title, desc, category, kind, price, lat, lon in rows:
        key = geo_key(lat, lon, lid)
        these = tok.listing_tokens(title, desc) + tuple(
            TAG + t for t in tok.tags(category, str(kind), price)
        )
        ids.append(lid)
        keys.append(key)
        docs.append(" ".join(these))
        terms.extend(these)
        term_keys.extend([key] * len(these))
        seen.update(these)
    if ids:
        session.execute(_DOCS, {"ids": ids, "keys": keys, "terms": docs})
        session.execute(_POSTINGS, {"terms": terms, "keys": term_keys})
        counted = sorted(seen.items())
        session.execute(_TERMS, {"terms": [t for t, _ in counted], "docs": [n for _, n in counted]})
    return len(ids)


def _index_where(session: Session, where: str, args: dict, progress, total: int) -> int:
    done, last = 0, 0
    while True:
        rows = session.execute(
            text(
                "SELECT id, title, description, category, kind, price, lat, lon FROM listing"
                f" WHERE {where} AND id > :last ORDER BY id LIMIT :n"
            ),
            {**args, "last": last, "n": BATCH},
        ).all()
        if not rows:
            return done
        done += _index_rows(session, rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)


def _analyze(session: Session) -> None:
    """Statistics after a bulk load or rebuild: without them (autovacuum may be off or not
    yet run) the planner guesses the listing table small and scans it whole for every
    map cell instead of fetching the few listings by id."""
    for table in ("listing", "search_doc", "search_posting", "search_terms"):
        session.execute(text(f"ANALYZE {table}"))


class PgSearchIndex:
    # ------------------------------------------------------------ keeping the index

    def pending(self, session: Session) -> int:
        return session.execute(text("SELECT count(*) FROM search_dirty")).scalar_one()

    def catch_up(self, session: Session, progress: Progress | None = None) -> int:
        session.flush()
        ids = session.execute(text("DELETE FROM search_dirty RETURNING listing_id")).scalars().all()
        if not ids:
            return 0
        session.execute(_DROP, {"ids": ids})
        session.execute(text("DELETE FROM search_doc WHERE listing_id = ANY(:ids)"), {"ids": ids})
        done = _index_where(session, "id = ANY(:ids)", {"ids": sorted(ids)}, progress, len(ids))
        if progress:
            progress(len(ids), len(ids))
        return done

    def suspend(self, session: Session) -> int:
        """Before a bulk load: the last listing id (the triggers stay: catch_up indexes it)."""
        return session.execute(text("SELECT coalesce(max(id), 0) FROM listing")).scalar_one()

    def resume(self, session: Session, after_id: int, progress: Progress | None = None) -> int:
        """After a bulk load: index what it queued; rows loaded with explicit ids (users)
        left their sequences behind, so they are moved past the largest id.

        The triggers stayed on through the load (see `suspend`), so the queue holds exactly
        the loaded listings: SQLite's mark of where the load began is not needed here.
        """
        reset_sequences(session.connection())
        done = self.catch_up(session, progress)
        _analyze(session)
        return done

    def rebuild(self, session: Session, progress: Progress | None = None) -> int:
        session.flush()
        session.execute(text("TRUNCATE search_doc, search_posting, search_dirty, search_terms"))
        total = session.execute(text("SELECT count(*) FROM listing")).scalar_one()
        done = _index_where(session, "true", {}, progress, total)
        _analyze(session)
        if progress:
            progress(total, total)
        return done

    # ------------------------------------------------------------ reading it

    def plan(
        self, session: Session, words: tuple[str, ...], kind: str | None, category: str | None
    ) -> TextPlan | None:
        """One statement: the terms each word starts, and the counts of the tags."""
        tags = [TAG + tok.kind_tag(k) for k in Kind]
        asked = [
            tag
            for tag in (
                tok.kind_tag(kind) if kind is not None else None,
                tok.category_tag(category) if category is not None else None,
            )
            if tag is not None
        ]
        asked = [TAG + tag for tag in asked]
        rows = session.execute(
            text(
                "SELECT w.i, t.term, t.docs FROM unnest(CAST(:lo AS text[]), CAST(:hi AS text[]))"
                " WITH ORDINALITY AS w(lo, hi, i)"
                " JOIN search_terms t ON t.term >= w.lo AND t.term < w.hi"
                " UNION ALL SELECT 0, term, docs FROM search_terms WHERE term = ANY(:tags)"
            ),
            {
                "lo": list(words),
                "hi": [w[:-1] + chr(ord(w[-1]) + 1) for w in words],
                "tags": tags + asked,
            },
        ).all()
        started: list[dict[str, int]] = [{} for _ in words]
        counts: dict[str, int] = {}
        for i, term, docs in rows:
            if i:
                started[i - 1][term] = docs
            else:
                counts[term] = docs
        parts, estimates, exact, post = [], [], [], []
        for w, terms in zip(words, started, strict=True):
            if not terms:
                return None
            if len(w) == 1 and len(terms) > EXPAND_MAX:
                post.append(w)
            else:
                parts.append(sorted(terms))
            estimates.append(sum(terms.values()))
            exact.append(w in terms)
        for tag in asked:
            parts.append([tag])
            estimates.append(counts.get(tag, 0))
        return TextPlan(
            terms=parts,
            estimate=min(estimates) if estimates else None,
            exact=tuple(exact),
            post=tuple(post),
            indexed=sum(counts.get(t, 0) for t in tags),
        )

    def price_buckets(self, session: Session) -> dict[int, int]:
        return {
            int(term[2:]): docs
            for term, docs in session.execute(
                text("SELECT term, docs FROM search_terms WHERE term >= '#p' AND term < '#q'")
            )
            if term[2:].isdigit()
        }

    def fetch(
        self,
        session: Session,
        plan: TextPlan,
        area: Area,
        buckets: Sequence[int] | None = None,
    ) -> list[Row]:
        """Active listings of others within the radius that match: per map cell, the
        postings of every word and tag intersected, then haversine on the few left."""
        parts: list[list[str]] = list(plan.terms)  # type: ignore[call-overload]
        if buckets is not None:
            parts.append([TAG + tok.price_tag(b) for b in buckets])
        box = Box.around(area.lat, area.lon, area.radius_km)
        cells = ", ".join(f"({lo}::bigint, {hi}::bigint)" for lo, hi in key_ranges(box))
        args: dict = {}
        if parts:
            selects = []
            for i, terms in enumerate(parts):
                selects.append(
                    f"SELECT p.key FROM search_posting p WHERE p.term = ANY(:t{i})"
                    " AND p.key BETWEEN r.lo AND r.hi"
                )
                args[f"t{i}"] = terms
            # One part: a word may start several terms of one listing, hence DISTINCT.
            keys = (
                " INTERSECT ".join(selects)
                if len(selects) > 1
                else "SELECT DISTINCT" + selects[0][6:]
            )
        else:
            keys = "SELECT d.key FROM search_doc d WHERE d.key BETWEEN r.lo AND r.hi"
        where = ""
        if area.min_price is not None:
            where += " AND l.price >= :min_price"
            args["min_price"] = area.min_price
        if area.max_price is not None:
            where += " AND l.price <= :max_price"
            args["max_price"] = area.max_price
        args.update(lat0=box.lat0, lat1=box.lat1, lon0=box.lon0, lon1=box.lon1, me=area.me_id)
        sql = (
            f"SELECT {_COLUMNS} FROM (VALUES {cells}) AS r(lo, hi)"
            # OFFSET 0: read each cell through the index, never one hash join of the tables.
            f" CROSS JOIN LATERAL ({keys} OFFSET 0) AS k"
            f" JOIN listing l ON l.id = (k.key & {ID_MASK})"
            f" WHERE l.status = 'active' AND l.seller_id <> :me{where}"
            " AND l.lat BETWEEN :lat0 AND :lat1 AND l.lon BETWEEN :lon0 AND :lon1"
        )
        found: list[Row] = []
        for lid, title, desc, kind_, cat, unit, price, seller_id, lat, lon in session.execute(
            text(sql), args
        ):
            km = haversine_km(area.lat, area.lon, lat, lon)
            if km <= area.radius_km:
                found.append((lid, title, desc, str(kind_), cat, str(unit), price, seller_id, km))
        return found
