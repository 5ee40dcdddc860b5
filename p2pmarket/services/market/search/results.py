"""A found page as the person sees it: rounded distances, credit, the why of each hit,
how far the nearest match is when nothing was found, and prices against their bands."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace

from sqlmodel import Session, col, select

from p2pmarket.models import ListingPhoto, User
from p2pmarket.services.market import pricing
from p2pmarket.services.market.search.plan import conditions_of, find, seller_credit
from p2pmarket.services.market.search.query import (
    BEYOND_MAX_KM,
    Candidate,
    Query,
    Sort,
    check_query,
    text_score,
)
from p2pmarket.services.trust import feedback
from p2pmarket.store import ports
from p2pmarket.tokens import query_tokens


def round_km(km: float) -> float:
    """Distances are shown rounded, never exact: 0.1 km steps under 10 km, then whole km."""
    if km < 10:
        return max(0.1, round(km, 1))
    return float(round(km))


def fmt_km(km: float) -> str:
    shown = round_km(km)
    return f"~{shown:.1f} km" if shown < 10 else f"~{shown:.0f} km"


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
    # Goods: the condition the seller said (None: not said, or not goods).
    condition: str | None = None
    has_photos: bool = False
    # The seller's reviews: average stars and how many (None: no reviews yet).
    rating: feedback.Rating | None = None

    def to_json(self) -> dict:
        return asdict(self)

    def rated(self) -> str:
        """'★4.7 (12)', or 'no reviews'."""
        return self.rating.said() if self.rating else "no reviews"


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

    def nothing_found(self, *, finished: bool = True) -> str:
        """The sentence for an empty first page: what was searched, and how far to widen
        (`finished` False: the page was shown before its look further out)."""
        said = f"Nothing found within {self.radius_km:g} km of {self.centre}"
        if not finished and self.radius_km < BEYOND_MAX_KM:
            return f"{said}; looking further…"
        if self.nearest_beyond_km is None:
            return f"{said} (nor within {BEYOND_MAX_KM:g} km)."
        return (
            f"{said}; the nearest is {fmt_km(self.nearest_beyond_km)} away: "
            f"widen the radius to {self.widen_to_km} km."
        )


def search(
    session: Session,
    clock,
    me: User,
    query: Query,
    *,
    centre: str = "home",
    finished: bool = True,
) -> Results:
    """One page of nearby listings for `me`, each with a rounded distance and a why.

    `finished`: with the slower second part (`finish`) too; the TUI shows the page as
    soon as it is found and finishes it after.
    """
    query = check_query(query)
    page, has_more = find(session, me, query)
    results = page_results(session, query, page, has_more, centre)
    return finish(session, clock, me, query, results) if finished else results


def finish(
    session: Session,
    clock,
    me: User,
    query: Query,
    results: Results,
    *,
    cancelled: Callable[[], bool] | None = None,
) -> Results:
    """A found page's slower part: an empty first page learns how far the nearest match
    is (a search of BEYOND_MAX_KM), and each price is compared with its band.

    `cancelled`: asked between rows; once it says yes, `Superseded` is raised.
    """
    results = with_nearest_beyond(results, query, lambda wider: _beyond(session, me, wider))
    return price_page(session, clock, results, lat=query.lat, lon=query.lon, cancelled=cancelled)


# Words found nowhere out to BEYOND_MAX_KM, kept while nobody writes to the store (the
# memo pricing keeps its bands in): typing on ("sofa bi", "sofa bik", "sofa bike") only
# narrows what the words match, so nothing is found there either, and each look 50 km
# out read 60-160 ms at 1M listings.
_NOTHING_BEYOND = "p2pmarket.search.nothing-beyond"
NOTHING_KEPT = 32  # word lists per centre and filters


def _beyond(session: Session, me: User, wider: Query) -> tuple[list[Candidate], bool]:
    """`find` out to BEYOND_MAX_KM, unless the words only narrow words found nowhere there
    with the same filters: each word of those is the start of one of these."""
    kept = ports.of(session).prices.memo(session, _NOTHING_BEYOND)
    if kept is None:
        return find(session, me, wider)
    words = query_tokens(wider.text)
    nowhere = kept.setdefault((me.id, replace(wider, text="")), [])
    if any(_narrows(words, broader) for broader in nowhere):
        return [], False
    page, more = find(session, me, wider)
    if not page:
        nowhere[:] = [*nowhere[1 - NOTHING_KEPT :], words]
    return page, more


def _narrows(words: tuple[str, ...], broader: tuple[str, ...]) -> bool:
    """Whether every listing `words` match is matched by `broader` (each word must start
    some token of a listing)."""
    return all(any(word.startswith(b) for word in words) for b in broader)


def with_nearest_beyond(results: Results, query: Query, find_page) -> Results:
    """An empty first page learns how far the nearest match is."""
    if results.hits or query.page != 1 or query.radius_km >= BEYOND_MAX_KM:
        return results
    wider = replace(query, radius_km=BEYOND_MAX_KM, sort=Sort.nearest, page_size=1)
    page, _more = find_page(wider)
    if not page:
        return results
    km = page[0].km
    return replace(results, nearest_beyond_km=round_km(km), widen_to_km=math.ceil(km))


def seller_handles(session: Session, seller_ids: Iterable[int]) -> dict[int, str]:
    ids = set(seller_ids)
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.handle).where(col(User.id).in_(ids))).all())


def with_photos(session: Session, listing_ids: set[int]) -> set[int]:
    """Which of these listings have a photo (one query for a page)."""
    if not listing_ids:
        return set()
    query = select(ListingPhoto.listing_id).where(col(ListingPhoto.listing_id).in_(listing_ids))
    return set(session.exec(query.distinct()).all())


def page_results(
    session: Session,
    query: Query,
    page: list[Candidate],
    has_more: bool,
    centre: str,
) -> Results:
    """A found page as the person sees it: distance, credit, why.

    The why's price comparison is `price_page`'s, added to a page already found.
    """
    words = query_tokens(query.text)
    ids = {c.seller_id for c in page}
    handles = seller_handles(session, ids)
    credit_of = seller_credit(session, ids)
    said = conditions_of(session, (c.id for c in page))
    pictured = with_photos(session, {c.id for c in page})
    rated = feedback.ratings(session, ids)
    hits = []
    for c in page:
        c.credit = credit_of.get(c.seller_id)
        if words and not c.where:
            c.text_score, c.where = text_score(words, c.title)
        why = [c.where or "nearby", fmt_km(c.km).lstrip("~")]
        if c.id in said:
            why.append(pricing.condition_label(said[c.id]))
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
                condition=said.get(c.id),
                has_photos=c.id in pictured,
                rating=rated.get(c.seller_id),
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


def price_page(
    session: Session,
    clock,
    results: Results,
    *,
    lat: float,
    lon: float,
    cancelled: Callable[[], bool] | None = None,
) -> Results:
    """A found page with each price compared with its suggested band around (lat, lon).

    The last part of each why; a page can be found first and priced after (the bands
    take longest the first time a category shows up), so the search is never run twice. Each
    band is the one `price suggest --listing` and the listing's page give around (lat, lon).
    """
    ids = [h.id for h in results.hits]
    bands = pricing.suggest_listings(session, clock, ids, lat=lat, lon=lon, cancelled=cancelled)
    return replace(results, hits=tuple(_priced(h, bands.get(h.id)) for h in results.hits))


def _priced(hit: Hit, band: pricing.Suggestion | None) -> Hit:
    said = pricing.compare(hit.price, band) if band is not None else None
    return replace(hit, why=f"{hit.why} · {said}") if said else hit
