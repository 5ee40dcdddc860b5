"""The naive search plan `bench search` measures the index against: every text match (or
every listing), then the distance of each in Python. One per store, picked by the store's
search adapter; the bench checks that both plans return the same nearest page."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from p2pmarket.geo import ID_MASK, haversine_km
from p2pmarket.models import User
from p2pmarket.services.market import search
from p2pmarket.services.trust import contacts
from p2pmarket.store import ports
from p2pmarket.store.postgres.search import TAG as PG_TAG
from p2pmarket.store.postgres.search import PgSearchIndex
from p2pmarket.store.sqlite import search as sqlite_search
from p2pmarket.tokens import category_tag, kind_tag, query_tokens


def _sqlite_rows(session: Session, me: User, query: search.Query, words) -> list[tuple]:
    """The plain FTS5 query for the words (and kind/category tags), every match joined to
    its listing; with no text and no tag, every listing row."""
    extra, args = sqlite_search.price_filters(query.min_price, query.max_price)
    parts = [f"words : ({' AND '.join(f'{chr(34)}{w}{chr(34)}*' for w in words)})"] if words else []
    if query.kind is not None:
        parts.append(f"tags : {kind_tag(str(query.kind))}")
    if query.category is not None:
        parts.append(f"tags : {category_tag(query.category)}")
    match = sqlite_search.fts_string(parts)
    if match is None:
        sql = (
            "SELECT l.id, l.seller_id, l.lat, l.lon FROM listing l"
            " WHERE l.status = 'active' AND l.seller_id <> ?"
        )
        params = [me.id]
    else:
        sql = (
            f"SELECT l.id, l.seller_id, l.lat, l.lon {sqlite_search.FROM}"
            " WHERE search_fts MATCH ? AND l.status = 'active' AND l.seller_id <> ?"
        )
        params = [match, me.id]
    return sqlite_search.raw(session).execute(sql + extra, params + args).fetchall()


def _pg_rows(session: Session, me: User, query: search.Query, words) -> list[tuple]:
    """Every listing whose terms match the words and tags (whole postings, no map cells),
    filters on the listing row."""
    parts, args = [], {}
    for i, w in enumerate(words):
        parts.append(
            f"SELECT DISTINCT key FROM search_posting WHERE term >= :lo{i} AND term < :hi{i}"
        )
        args[f"lo{i}"], args[f"hi{i}"] = w, w[:-1] + chr(ord(w[-1]) + 1)
    for name, tag in (
        ("kind", kind_tag(str(query.kind)) if query.kind is not None else None),
        ("category", category_tag(query.category) if query.category is not None else None),
    ):
        if tag is not None:
            parts.append(f"SELECT key FROM search_posting WHERE term = :{name}")
            args[name] = PG_TAG + tag
    where = ""
    for name, value, sql in (
        ("min_price", query.min_price, " AND l.price >= :min_price"),
        ("max_price", query.max_price, " AND l.price <= :max_price"),
    ):
        if value is not None:
            where += sql
            args[name] = value
    sql = "SELECT l.id, l.seller_id, l.lat, l.lon FROM listing l"
    if parts:
        sql += f" JOIN ({' INTERSECT '.join(parts)}) k ON l.id = (k.key & {ID_MASK})"
    sql += f" WHERE l.status = 'active' AND l.seller_id <> :me{where}"
    return session.execute(text(sql), {**args, "me": me.id}).all()


def naive_ids(session: Session, me: User, query: search.Query) -> list[int]:
    """The ids of one nearest-first page by the naive plan."""
    query = search.check_query(query)
    words = query_tokens(query.text)
    blocked = contacts.blocked_by(session, me.id)
    pg = isinstance(ports.of(session).search, PgSearchIndex)
    found = (_pg_rows if pg else _sqlite_rows)(session, me, query, words)
    rows = []
    for lid, seller_id, lat, lon in found:
        km = haversine_km(query.lat, query.lon, lat, lon)
        if km <= query.radius_km and seller_id not in blocked:
            rows.append((km, lid))
    rows.sort()
    start = (query.page - 1) * query.page_size
    return [lid for _, lid in rows[start : start + query.page_size]]


def match_saved_at_write(session: Session, listing_id: int) -> int:
    """The naive plan for saved searches: as a listing is written, run every saved search
    over it (the same matching as ours, done eagerly) and store each hit then; the hits."""
    from sqlmodel import select

    from p2pmarket.models import InboxKind, SavedSearch
    from p2pmarket.services.trust import inbox

    hits = 0
    for saved in session.exec(select(SavedSearch)).all():
        owner = session.get(User, saved.user_id)
        query = inbox.saved_query(saved.query)
        [found], _ = search.find_new(session, owner, [(query, listing_id - 1)])
        for c in found:
            what = f"New for '{saved.name}': #{c.id}"
            key = f"hit:{saved.id}:{c.id}"
            hits += inbox.add(session, owner.id, InboxKind.search, what, ("listing", c.id), 0, key)
    return hits
