"""Nearby search on PostgreSQL: the interface of search.py, one implementation per dialect.

search.py dispatches here when the store is PostgreSQL; tokens, scoring, sorting,
the published-facts rule and the "why" of each hit are search.py's own, so both
stores return the same pages for the same data.

- `search_doc` holds, per listing, the tokens search.py computes (" tok1 tok2 …",
  a space before each token) and the place as an earthdistance point (a cube).
  A typed word w matches a listing when some token starts with w, i.e.
  `words LIKE '% w%'`; a pg_trgm GIN index answers that for prefixes and for
  Chinese (C.UTF-8 or any UTF-8 ctype makes CJK characters word characters).
  The place has a GiST index; `earth_box(centre, r) @> earth` reads it. PostgreSQL
  intersects the two indexes (BitmapAnd) before touching any listing row, so text
  and distance meet inside the indexes; exact distance (haversine, as on SQLite)
  is then checked on the few rows that come out.
- Status, price, kind, category and seller come from the listing row, so pausing a
  listing never touches the index. Triggers on `listing` queue changed ids in
  `search_dirty`; `catch_up` re-indexes them, `rebuild` recreates everything.
- Nearest and best grow the radius in steps as on SQLite, stopping once nobody
  further out could still make the page. `search.search` turns the page `find`
  returns into results (both dialects).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select

from p2pmarket.models import User
from p2pmarket.services.market import search as s
from p2pmarket.services.trust import contacts, credit

BATCH = 5_000
# earthdistance measures on a sphere of earth() = 6378168 m; search.py on EARTH_KM.
EARTH_M = 6378168.0
# The box is widened a hair so that rounding never drops a listing on the circle.
BOX_SLACK = 1 + 1e-6

# ---------------------------------------------------------------- keeping the index


def pending(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM search_dirty")).scalar_one()


def _words(title: str, description: str) -> str:
    found = s.tokens(title) + (s.tokens(description) if description else ())
    return "".join(f" {t}" for t in dict.fromkeys(found))


_INSERT = text(
    "INSERT INTO search_doc (listing_id, words, earth)"
    " VALUES (:id, :words, ll_to_earth(:lat, :lon))"
)


def _index_rows(session: Session, rows: Iterable) -> int:
    docs = [
        {"id": lid, "words": _words(title, desc), "lat": lat, "lon": lon}
        for lid, title, desc, lat, lon in rows
    ]
    if docs:
        session.execute(_INSERT, docs)
    return len(docs)


def _index_where(session: Session, where: str, args: dict, progress, total: int) -> int:
    done, last = 0, 0
    while True:
        rows = session.execute(
            text(
                f"SELECT id, title, description, lat, lon FROM listing WHERE {where}"
                " AND id > :last ORDER BY id LIMIT :n"
            ),
            {**args, "last": last, "n": BATCH},
        ).all()
        if not rows:
            return done
        done += _index_rows(session, rows)
        last = rows[-1][0]
        if progress:
            progress(done, total)


def catch_up(session: Session, progress: s.Progress | None = None) -> int:
    """Re-index every queued listing, in this write transaction. Returns how many."""
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


def suspend(session: Session) -> int:
    """Before a bulk load: the last listing id (the triggers stay; catch_up indexes the load)."""
    return session.execute(text("SELECT coalesce(max(id), 0) FROM listing")).scalar_one()


def resume(session: Session, _after_id: int, progress: s.Progress | None = None) -> int:
    """After a bulk load: index what it queued; rows loaded with explicit ids (users)
    left their sequences behind, so they are moved past the largest id.

    The triggers stayed on through the load (see `suspend`), so the queue holds exactly
    the loaded listings: SQLite's mark of where the load began is not needed here.
    """
    from p2pmarket.store.postgres import engine as db_pg

    db_pg.reset_sequences(session.connection())
    return catch_up(session, progress)


def rebuild(session: Session, progress: s.Progress | None = None) -> int:
    """Recreate the whole index from the listing table (derived data, never the truth)."""
    session.flush()
    session.execute(text("TRUNCATE search_doc, search_dirty"))
    total = session.execute(text("SELECT count(*) FROM listing")).scalar_one()
    done = _index_where(session, "true", {}, progress, total)
    session.execute(text("ANALYZE search_doc"))
    if progress:
        progress(total, total)
    return done


# ---------------------------------------------------------------- queries


def seller_credit(session: Session, seller_ids: Iterable[int]) -> dict[int, int | None]:
    """Published transaction credit of each seller; None when the seller does not publish it."""
    ids = sorted(set(seller_ids))
    if not ids:
        return {}
    shown = list(session.exec(select(User.id).where(col(User.pub_credit), col(User.id).in_(ids))))
    scores = credit.scores_for(session, shown)
    return {uid: scores[uid].transaction if uid in scores else None for uid in ids}


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped}%"


def _conditions(query: s.Query, words: tuple[str, ...]) -> tuple[list[str], dict]:
    where, args = [], {}
    for i, w in enumerate(words):
        where.append(f"d.words LIKE :w{i}")
        args[f"w{i}"] = _like(w)
    for name, value, sql in (
        ("kind", query.kind, "l.kind = :kind"),
        ("category", query.category, "l.category = :category"),
        ("min_price", query.min_price, "l.price >= :min_price"),
        ("max_price", query.max_price, "l.price <= :max_price"),
    ):
        if value is not None:
            where.append(sql)
            args[name] = str(value) if name == "kind" else value
    return where, args


_COLUMNS = (
    "l.id, l.title, l.description, l.kind, l.category, l.unit, l.price, l.seller_id, l.lat, l.lon"
)


def _fetch(
    session: Session, query: s.Query, me_id: int, words: tuple[str, ...], radius_km: float
) -> list[s._Candidate]:
    """Active listings of others within radius_km that match: both indexes, then haversine."""
    where, args = _conditions(query, words)
    angle = radius_km / s.EARTH_KM
    where.append("earth_box(ll_to_earth(:lat, :lon), :box_m) @> d.earth")
    args.update(lat=query.lat, lon=query.lon, box_m=angle * EARTH_M * BOX_SLACK + 1.0)
    sql = (
        f"SELECT {_COLUMNS} FROM search_doc d JOIN listing l ON l.id = d.listing_id"
        f" WHERE l.status = 'active' AND l.seller_id <> :me AND {' AND '.join(where)}"
    )
    found = []
    for lid, title, desc, kind, cat, unit, price, seller_id, lat, lon in session.execute(
        text(sql), {**args, "me": me_id}
    ):
        km = s.haversine_km(query.lat, query.lon, lat, lon)
        if km <= radius_km:
            found.append(
                s._Candidate(lid, title, desc, str(kind), cat, str(unit), price, seller_id, km)
            )
    return found


def find(session: Session, me: User, query: s.Query) -> tuple[list[s._Candidate], bool]:
    """The matching listings of one page (in order) and whether more follow."""
    query = s.check_query(query)
    words = s.query_tokens(query.text)
    blocked = contacts.blocked_by(session, me.id)
    need = query.page * query.page_size + 1
    key = s._sort_key(query.sort)

    def keep(rows: list[s._Candidate]) -> list[s._Candidate]:
        return s._keep(session, query, words, blocked, rows)

    radii = [query.radius_km]
    if query.sort in (s.Sort.nearest, s.Sort.best):
        radii, r = [], min(s.FIRST_STEP_KM, query.radius_km)
        while r < query.radius_km:
            radii.append(r)
            r *= s.STEP_FACTOR
        radii.append(query.radius_km)
    found: list[s._Candidate] = []
    for radius in radii:
        found = keep(_fetch(session, query, me.id, words, radius))
        if radius == radii[-1] or len(found) < need:
            continue
        found.sort(key=key)
        # Past `radius` the best possible text score (1.0) decays below the page's last.
        if query.sort is s.Sort.nearest or found[need - 1].score >= 1 / (1 + radius / s.DECAY_KM):
            break
    found.sort(key=key)
    start = (query.page - 1) * query.page_size
    return found[start : start + query.page_size], len(found) > start + query.page_size


def seller_handles(session: Session, seller_ids: Iterable[int]) -> dict[int, str]:
    ids = set(seller_ids)
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.handle).where(col(User.id).in_(ids))).all())


def naive_ids(session: Session, me: User, query: s.Query) -> list[int]:
    """The bench's baseline: every text match (or every row), then distance in Python."""
    query = s.check_query(query)
    words = s.query_tokens(query.text)
    blocked = contacts.blocked_by(session, me.id)
    where, args = _conditions(query, words)
    sql = (
        "SELECT l.id, l.seller_id, l.lat, l.lon FROM listing l"
        + (" JOIN search_doc d ON d.listing_id = l.id" if words else "")
        + " WHERE l.status = 'active' AND l.seller_id <> :me"
        + "".join(f" AND {w}" for w in where)
    )
    rows = []
    for lid, seller_id, lat, lon in session.execute(text(sql), {**args, "me": me.id}):
        km = s.haversine_km(query.lat, query.lon, lat, lon)
        if km <= query.radius_km and seller_id not in blocked:
            rows.append((km, lid))
    rows.sort()
    start = (query.page - 1) * query.page_size
    return [lid for _, lid in rows[start : start + query.page_size]]
