"""Nearby search on PostgreSQL: the same index idea as SQLite's FTS5 one, in a btree.

- `search_doc` holds, per listing, its geographic key (`geo.geo_key`: a Z-order code
  of the place, then the listing id) and its tokens (" tok1 tok2 …", a space before
  each token, as p2pmarket/tokens.py computes them). A btree on the key that also
  carries the words answers a query box as a few key ranges, and the words are checked
  in the index entries of those ranges (`words LIKE '% w%'`: some token starts with w)
  before any listing row is read: text and place meet inside one index, as on SQLite.
  A pg_trgm GIN index on the words serves a rare word over a wide radius, where the
  planner prefers it. (The first version intersected a trigram and an earthdistance
  index per query; on 100k listings its p95 was 17× SQLite's.)
- `search_terms` counts the listings holding each token and tag (kind, category, price
  bucket), an upper bound as on SQLite: the services aim their radius steps and price
  groups with it, so both stores read the same steps.
- Status, price, kind, category and seller come from the listing row, so pausing a
  listing never touches the index. Triggers on `listing` queue changed ids in
  `search_dirty`; `catch_up` re-indexes them, `rebuild` recreates everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, text
from sqlmodel import Session

from p2pmarket import tokens as tok
from p2pmarket.geo import Box, geo_key, haversine_km, key_ranges
from p2pmarket.models import Kind
from p2pmarket.store.ports import Area, Progress, Row, TextPlan
from p2pmarket.store.postgres.engine import reset_sequences

BATCH = 5_000

_COLUMNS = (
    "l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id, l.lat, l.lon"
)
_INSERT = text("INSERT INTO search_doc (listing_id, key, words) VALUES (:id, :key, :words)")
_TERMS = text(
    "INSERT INTO search_terms (term, docs) VALUES (:term, :docs)"
    " ON CONFLICT (term) DO UPDATE SET docs = search_terms.docs + excluded.docs"
)


def like(word: str) -> str:
    """The LIKE pattern of "some token starts with `word`" on search_doc.words."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped}%"


def _index_rows(session: Session, rows: Iterable) -> int:
    docs, seen = [], Counter()
    for lid, title, desc, category, kind, price, lat, lon in rows:
        words = tok.listing_tokens(title, desc)
        spaced = "".join(f" {t}" for t in words)
        docs.append({"id": lid, "key": geo_key(lat, lon, lid), "words": spaced})
        seen.update(words)
        seen.update(tok.tags(category, str(kind), price))
    if docs:
        session.execute(_INSERT, docs)
        session.execute(_TERMS, [{"term": t, "docs": n} for t, n in sorted(seen.items())])
    return len(docs)


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


def _price_ranges(buckets: Sequence[int]) -> list[tuple[int | None, int | None]]:
    """Price ranges of the buckets, neighbouring buckets merged."""
    spans: list[list[int]] = []
    for b in sorted(buckets):
        if spans and spans[-1][1] + 1 == b:
            spans[-1][1] = b
        else:
            spans.append([b, b])
    return [tok.bucket_prices(first, last) for first, last in spans]


class PgSearchIndex:
    # ------------------------------------------------------------ keeping the index

    def pending(self, session: Session) -> int:
        return session.execute(text("SELECT count(*) FROM search_dirty")).scalar_one()

    def catch_up(self, session: Session, progress: Progress | None = None) -> int:
        session.flush()
        ids = session.execute(text("DELETE FROM search_dirty RETURNING listing_id")).scalars().all()
        if not ids:
            return 0
        session.execute(
            text("DELETE FROM search_doc WHERE listing_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )
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
        return self.catch_up(session, progress)

    def rebuild(self, session: Session, progress: Progress | None = None) -> int:
        session.flush()
        session.execute(text("TRUNCATE search_doc, search_dirty, search_terms"))
        total = session.execute(text("SELECT count(*) FROM listing")).scalar_one()
        done = _index_where(session, "true", {}, progress, total)
        session.execute(text("ANALYZE search_doc"))
        session.execute(text("ANALYZE search_terms"))
        if progress:
            progress(total, total)
        return done

    # ------------------------------------------------------------ reading it

    def plan(
        self, session: Session, words: tuple[str, ...], kind: str | None, category: str | None
    ) -> TextPlan | None:
        estimates, exact = [], []
        for w in words:
            upper = w[:-1] + chr(ord(w[-1]) + 1)
            terms = session.execute(
                text("SELECT term, docs FROM search_terms WHERE term >= :lo AND term < :hi"),
                {"lo": w, "hi": upper},
            ).all()
            if not terms:
                return None
            estimates.append(sum(d for _, d in terms))
            exact.append(any(t == w for t, _ in terms))
        for tag in (
            tok.kind_tag(kind) if kind is not None else None,
            tok.category_tag(category) if category is not None else None,
        ):
            if tag is not None:
                estimates.append(self._docs(session, [tag]))
        indexed = self._docs(session, [tok.kind_tag(k) for k in Kind])
        return TextPlan(
            terms=(words, kind, category),
            estimate=min(estimates) if estimates else None,
            exact=tuple(exact),
            indexed=indexed,
        )

    @staticmethod
    def _docs(session: Session, terms: list[str]) -> int:
        return session.execute(
            text("SELECT coalesce(sum(docs), 0) FROM search_terms WHERE term = ANY(:t)"),
            {"t": terms},
        ).scalar_one()

    def price_buckets(self, session: Session) -> dict[int, int]:
        return {
            int(term[1:]): docs
            for term, docs in session.execute(
                text("SELECT term, docs FROM search_terms WHERE term >= 'p' AND term < 'q'")
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
        """Active listings of others within the radius that match: key ranges of the box
        (their index entries checked for the words), then haversine on the few left."""
        words, kind, category = plan.terms  # type: ignore[misc]
        box = Box.around(area.lat, area.lon, area.radius_km)
        where, args = [], {}
        ranges = key_ranges(box)
        where.append(
            "(" + " OR ".join(f"d.key BETWEEN :lo{i} AND :hi{i}" for i in range(len(ranges))) + ")"
        )
        for i, (lo, hi) in enumerate(ranges):
            args[f"lo{i}"], args[f"hi{i}"] = lo, hi
        for i, w in enumerate(words):
            where.append(f"d.words LIKE :w{i}")
            args[f"w{i}"] = like(w)
        for name, value, sql in (
            ("kind", kind, "l.kind = :kind"),
            ("category", category, "l.category = :category"),
            ("min_price", area.min_price, "l.price >= :min_price"),
            ("max_price", area.max_price, "l.price <= :max_price"),
        ):
            if value is not None:
                where.append(sql)
                args[name] = str(value) if name == "kind" else value
        if buckets is not None:
            spans = []
            for i, (low, high) in enumerate(_price_ranges(buckets)):
                parts = []
                if low is not None:
                    parts.append(f"l.price >= :plo{i}")
                    args[f"plo{i}"] = low
                if high is not None:
                    parts.append(f"l.price < :phi{i}")
                    args[f"phi{i}"] = high
                spans.append("(" + (" AND ".join(parts) or "true") + ")")
            where.append("(" + " OR ".join(spans) + ")")
        where.append("l.lat BETWEEN :lat0 AND :lat1 AND l.lon BETWEEN :lon0 AND :lon1")
        args.update(lat0=box.lat0, lat1=box.lat1, lon0=box.lon0, lon1=box.lon1)
        sql = (
            f"SELECT {_COLUMNS} FROM search_doc d JOIN listing l ON l.id = d.listing_id"
            f" WHERE l.status = 'active' AND l.seller_id <> :me AND {' AND '.join(where)}"
        )
        found: list[Row] = []
        for lid, title, desc, kind_, cat, unit, price, seller_id, lat, lon in session.execute(
            text(sql), {**args, "me": area.me_id}
        ):
            km = haversine_km(area.lat, area.lon, lat, lon)
            if km <= area.radius_km:
                found.append((lid, title, desc, str(kind_), cat, str(unit), price, seller_id, km))
        return found
