"""Finding one page: how far to read and in which order, the same steps on every store.

- Nearest and best grow the radius, each step aimed at GROW_AIM pages from the term
  counts and the last step's matches, and stop as soon as nobody further out could
  still make the page. Cheapest reads price buckets upwards, in groups sized by how
  many listings they hold, and stops when a page is full. Credit reads the whole
  radius (credit is not indexed).
- The index (store/ports.py SearchIndex) answers each step: which active listings of
  others within a radius match the words and tags. Blocked sellers, the minimum credit
  and the text score are applied here, on those few.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from p2pmarket.geo import haversine_km
from p2pmarket.models import Condition, Listing, ListingStatus, User
from p2pmarket.services.market.search.query import (
    DECAY_KM,
    PREFIX_SCORE,
    Candidate,
    Query,
    Sort,
    check_query,
    exact,
    text_score,
)
from p2pmarket.services.trust import contacts, credit
from p2pmarket.store import ports
from p2pmarket.store.ports import Area, TextPlan
from p2pmarket.tokens import PRICE_BOUNDS, has_prefixes, price_bucket, query_tokens

# A saved search looks at most this many new listings at a time (the oldest first); the
# next look goes on from the last one read.
NEW_MAX = 2_000

# Growing the radius (see `_grow`): each step aims at GROW_AIM pages' worth of matches,
# the first as if the place were as dense as a city centre (the bench market's centres
# hold about this many listings per km²), each next one from what the last step found,
# growing the radius at least ×GROW_MIN, at most ×GROW_MAX.
GROW_AIM = 2.0
DENSE_PER_KM2 = 10_000
GROW_MIN = 1.5
GROW_MAX = 9.0
STEP_FACTOR = 3.0
# Under this many possible matches (an upper bound from the term counts) one read of the
# whole radius beats growing it or walking price buckets.
SMALL_MATCH = 400


@dataclass(frozen=True)
class _Plan:
    index: TextPlan
    # The best text score any match can have, and about which share of listings may match.
    best_text: float
    share: float

    @classmethod
    def of(cls, index: TextPlan, words: tuple[str, ...]) -> _Plan:
        best = [
            1.0 if known and exact(w) else PREFIX_SCORE
            for w, known in zip(words, index.exact, strict=True)
        ]
        estimate, indexed = index.estimate, index.indexed
        return cls(
            index=index,
            best_text=sum(best) / len(best) if best else 1.0,
            share=min(1.0, max(estimate, 1) / indexed) if estimate is not None and indexed else 1.0,
        )


def seller_credit(session: Session, seller_ids: Iterable[int]) -> dict[int, int | None]:
    """Published transaction credit of each seller; None when the seller does not publish it.

    One query for who publishes credit (User.pub_credit, the published-facts rule) and one
    batched read of the recorded scores for those sellers only.
    """
    ids = sorted(set(seller_ids))
    if not ids:
        return {}
    shown = list(session.exec(select(User.id).where(col(User.pub_credit), col(User.id).in_(ids))))
    scores = credit.scores_for(session, shown)
    return {uid: scores[uid].transaction if uid in scores else None for uid in ids}


def _sort_key(sort: Sort) -> Callable[[Candidate], tuple]:
    if sort is Sort.nearest:
        return lambda c: (c.km, c.id)
    if sort is Sort.cheapest:
        return lambda c: (c.price, c.km, c.id)
    if sort is Sort.credit:
        return lambda c: (c.credit is None, -(c.credit or 0), c.km, c.id)
    return lambda c: (-c.score, c.km, c.id)


def find(session: Session, me: User, query: Query) -> tuple[list[Candidate], bool]:
    """The matching listings of one page (in order) and whether more follow."""
    query = check_query(query)
    index = ports.of(session).search
    words = query_tokens(query.text)
    kind = str(query.kind) if query.kind is not None else None
    found_plan = index.plan(session, words, kind, query.category)
    if found_plan is None:
        return [], False
    plan = _Plan.of(found_plan, words)
    blocked = contacts.blocked_by(session, me.id)
    need = query.page * query.page_size + 1
    key = _sort_key(query.sort)
    estimate = found_plan.estimate
    small = estimate is not None and estimate <= SMALL_MATCH
    area = Area(query.lat, query.lon, query.radius_km, me.id, query.min_price, query.max_price)

    def read(radius_km: float, buckets: list[int] | None = None) -> list[Candidate]:
        where = Area(area.lat, area.lon, radius_km, me.id, area.min_price, area.max_price)
        rows = [Candidate(*row) for row in index.fetch(session, found_plan, where, buckets)]
        if found_plan.post:
            rows = [c for c in rows if has_prefixes(found_plan.post, c.title, c.description)]
        return _keep(session, query, words, blocked, rows)

    if query.sort in (Sort.nearest, Sort.best) and not small:
        found = _grow(query, plan, need, key, read)
    elif query.sort is Sort.cheapest and not small:
        held = index.price_buckets(session)
        found = _cheapest_first(query, plan, need, held, read)
    else:
        found = read(query.radius_km)
    found.sort(key=key)
    start = (query.page - 1) * query.page_size
    return found[start : start + query.page_size], len(found) > start + query.page_size


def find_new(
    session: Session, me: User, searches: Sequence[tuple[Query, int]]
) -> tuple[list[list[Candidate]], int]:
    """Saved searches run over the listings added since each last looked: per (query,
    after_id), the new listings (id > after_id) it finds, nearest first; and the last
    listing id read (where the next look starts).

    The same matches as `find` (active listings of others within the radius whose words
    the text prefixes, of the kind, category, prices, condition and credit asked), read
    from the few new listings by id, once for all the searches, instead of from the index:
    a saved search costs nothing when a listing is written, and a look costs as many rows
    as came since.
    """
    if not searches:
        return [], 0
    first = min(after for _, after in searches)
    read = session.exec(
        select(Listing).where(col(Listing.id) > first).order_by(col(Listing.id)).limit(NEW_MAX)
    ).all()
    last = read[-1].id if read else first
    rows = [r for r in read if r.status == ListingStatus.active and r.seller_id != me.id]
    blocked = contacts.blocked_by(session, me.id) if rows else set()
    return [
        _new_matches(session, check_query(q), after, rows, blocked) for q, after in searches
    ], last


def _new_matches(
    session: Session, query: Query, after: int, rows: list[Listing], blocked: set[int]
) -> list[Candidate]:
    words = query_tokens(query.text)
    kind = str(query.kind) if query.kind is not None else None
    low = query.min_price if query.min_price is not None else 0
    high = query.max_price if query.max_price is not None else math.inf
    found = []
    for row in rows:
        if (
            row.id <= after
            or (kind is not None and str(row.kind) != kind)
            or (query.category is not None and row.category != query.category)
            or not low <= row.price <= high
        ):
            continue
        km = haversine_km(query.lat, query.lon, row.lat, row.lon)
        if km <= query.radius_km and has_prefixes(words, row.title, row.description):
            found.append(
                Candidate(
                    row.id,
                    row.title,
                    row.description,
                    str(row.kind),
                    row.category,
                    str(row.unit),
                    row.price,
                    row.seller_id,
                    km,
                )
            )
    kept = _keep(session, query, words, blocked, found) if found else []
    kept.sort(key=_sort_key(Sort.nearest))
    return kept


def _grow(query: Query, plan: _Plan, need: int, key, read) -> list[Candidate]:
    """Nearest and best: grow the radius; past radius r nobody scores better than at r.

    Every step costs a few index seeks, so steps are aimed: the first radius would
    hold GROW_AIM pages in a city centre if the words were spread like the listings
    (wider for rarer words), and each next one is sized from how many the last one
    found (matches grow with the area, the radius squared).
    """
    dense = math.pi * DENSE_PER_KM2 * plan.share
    r = min(query.radius_km, math.sqrt(need * GROW_AIM / dense))
    while True:
        found = read(r)
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


def _cheapest_first(query: Query, plan: _Plan, need: int, held: dict[int, int], read):
    """Cheapest: read price buckets upwards, a group at a time, until a page is full.

    Every listing in a later bucket costs more than every listing read so far, so the
    first `need` by price are final once that many are in hand. Each step re-reads the
    words' entries in the radius, so groups are sized by the listings their buckets
    hold (the index's counts): the first to give GROW_AIM pages if the place were a
    city centre, each next one from how many matched per listing read so far.
    """
    first = price_bucket(query.min_price) if query.min_price is not None else 0
    last = price_bucket(query.max_price) if query.max_price is not None else len(PRICE_BOUNDS)
    # Buckets no listing was ever indexed in are skipped (the counts are a superset).
    buckets = [b for b in range(first, last + 1) if b in held]
    nearby = min(1.0, math.pi * DENSE_PER_KM2 * query.radius_km**2 / max(plan.index.indexed, 1))
    rate = plan.share * nearby
    found: list[Candidate] = []
    at, count = 0, 0
    while at < len(buckets):
        goal = max(2 * count, need * GROW_AIM / rate)
        group = []
        while at < len(buckets) and (not group or count < goal):
            group.append(buckets[at])
            count += held[buckets[at]]
            at += 1
        found += read(query.radius_km, group)
        if len(found) >= need:
            break
        rate = len(found) / count if found else rate / GROW_MAX
    return found


def _keep(
    session: Session,
    query: Query,
    words: tuple[str, ...],
    blocked: set[int],
    candidates: Iterable[Candidate],
) -> list[Candidate]:
    kept = [c for c in candidates if c.seller_id not in blocked]
    if query.min_credit is not None or query.sort is Sort.credit:
        credit_of = seller_credit(session, {c.seller_id for c in kept})
        for c in kept:
            c.credit = credit_of.get(c.seller_id)
        if query.min_credit is not None:
            kept = [c for c in kept if c.credit is not None and c.credit >= query.min_credit]
    if query.condition is not None:
        kept = _in_condition(session, kept, query.condition)
    if words and query.sort is Sort.best:
        for c in kept:
            c.text_score, c.where = text_score(words, c.title)
    return kept


def conditions_of(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The condition each listing says (those saying none are left out)."""
    ids = set(ids)
    if not ids:
        return {}
    rows = session.exec(
        select(Listing.id, Listing.condition).where(
            col(Listing.id).in_(ids), col(Listing.condition).is_not(None)
        )
    )
    return dict(rows.all())


def _in_condition(session: Session, kept: list[Candidate], least: Condition) -> list[Candidate]:
    """Goods said to be in `least` condition or better (Condition lists the best first)."""
    order = list(Condition)
    good_enough = {str(c) for c in order[: order.index(least) + 1]}
    said = conditions_of(session, (c.id for c in kept))
    return [c for c in kept if said.get(c.id) in good_enough]
