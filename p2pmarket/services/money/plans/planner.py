"""From a wish to plans on the store: the options of each leg (the search service, then
each listing's free slots that day), the plans that fit (fitting.py), and a sentence for
each leg nobody can fill.

Reads are bounded: each leg reads the SCAN nearest matches, and keeps the `per_leg(n)`
cheapest of them that are free and trusted enough, so the choices stay about
CHOICES whatever the market's size; explaining an empty leg reads at most SCAN more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import Clock
from p2pmarket.models import Listing, User
from p2pmarket.services.market import availability, catalog, search
from p2pmarket.services.money.plans.fitting import (
    Fitted,
    Option,
    plans,
    schedule,
    travel_seconds,
)
from p2pmarket.services.money.plans.wish import LegWish, Wish

SCAN = 30
CHOICES = 1000


def per_leg(legs: int) -> int:
    """Options kept per leg: the cheapest few, so that every choice can be tried."""
    return max(2, min(8, int(round(CHOICES ** (1 / legs), 6))))


@dataclass
class _Seen:
    """What a leg's search met, to say why it stayed empty."""

    matched: int = 0
    bookable: int = 0
    free: int = 0
    best_credit: int | None = None


@dataclass
class LegOptions:
    leg: LegWish
    options: list[Option] = field(default_factory=list)
    unfilled: str | None = None


def origin_of(me: User, wish: Wish) -> tuple[float, float, str]:
    """Where the day starts: the wish's area, else home (only ever shown as a distance)."""
    if wish.area is not None:
        place = catalog.area(wish.area)
        return place.lat, place.lon, place.slug
    return me.lat, me.lon, "home"


@dataclass(frozen=True)
class _Hit:
    """A listing the search found, with its place (the seller's public point)."""

    found: search.Candidate
    lat: float
    lon: float


def _option(
    session: Session, clock: Clock, zone: str, wish: Wish, index: int, hit: _Hit
) -> Option | None:
    """A found listing as an option of leg `index` (None: it takes no bookings), with
    the starts of every run of free slots for the leg inside the window (maybe none)."""
    listing_id = hit.found.id
    hours = availability.hours_of(session, listing_id, zone)
    if hours is None:
        return None
    count = wish.legs[index].count
    length = count * hours.slot
    free = {
        s.start
        for s in availability.free_slots(session, clock, zone, listing_id, days=1, since=wish.start)
    }
    starts = tuple(
        sorted(
            s
            for s in free
            if s + length <= wish.end and all(s + i * hours.slot in free for i in range(count))
        )
    )
    return Option(
        leg=index,
        listing_id=listing_id,
        seller_id=hit.found.seller_id,
        amount=hit.found.price * count,
        lat=hit.lat,
        lon=hit.lon,
        starts=starts,
        length=length,
        buffer_before=hours.buffer_before * 60,
        buffer_after=hours.buffer_after * 60,
        credit=hit.found.credit,
    )


def _found(
    session: Session, me: User, leg: LegWish, lat: float, lon: float, radius_km: float, sort
) -> list[_Hit]:
    query = search.Query(
        text="" if leg.category else leg.words,
        category=leg.category,
        lat=lat,
        lon=lon,
        radius_km=radius_km,
        sort=sort,
        page_size=SCAN,
    )
    hits, _ = search.find(session, me, query)
    credit_of = search.seller_credit(session, {h.seller_id for h in hits})
    places = _places(session, [h.id for h in hits])
    for h in hits:
        h.credit = credit_of.get(h.seller_id)
    return [_Hit(h, *places[h.id]) for h in hits]


def _places(session: Session, ids: list[int]) -> dict[int, tuple[float, float]]:
    if not ids:
        return {}
    rows = session.exec(
        select(Listing.id, Listing.lat, Listing.lon).where(col(Listing.id).in_(ids))
    )
    return {i: (lat, lon) for i, lat, lon in rows}


def _trusted(option: Option, wish: Wish) -> bool:
    return wish.min_credit is None or (
        option.credit is not None and option.credit >= wish.min_credit
    )


def leg_options(
    session: Session, clock: Clock, zone: str, me: User, wish: Wish, index: int, keep: int
) -> LegOptions:
    """Of the SCAN nearest matches within the wish's radius, the `keep` cheapest (then
    nearest) free for leg `index` and trusted enough; or the sentence saying why there
    are none. Nearest first: the index finds them in a small circle, where the cheapest
    of a whole city-centre radius means reading every match in it."""
    leg = wish.legs[index]
    lat, lon, _ = origin_of(me, wish)
    seen = _Seen()
    kept: list[tuple[int, float, Option]] = []
    for hit in _found(session, me, leg, lat, lon, wish.radius_km, search.Sort.nearest):
        seen.matched += 1
        option = _option(session, clock, zone, wish, index, hit)
        if option is None:
            continue
        seen.bookable += 1
        if not option.starts:
            continue
        seen.free += 1
        if option.credit is not None:
            seen.best_credit = max(seen.best_credit or 0, option.credit)
        if _trusted(option, wish):
            kept.append((option.amount, hit.found.km, option))
    if kept:
        kept.sort(key=lambda k: k[:2])
        return LegOptions(leg, [option for *_, option in kept[:keep]])
    return LegOptions(leg, [], _why_empty(session, clock, zone, me, wish, index, seen))


def _why_empty(
    session: Session, clock: Clock, zone: str, me: User, wish: Wish, index: int, seen: _Seen
) -> str:
    leg = wish.legs[index]
    within = f"within {wish.radius_km:g} km"
    if not seen.matched:
        said = f"No {leg.label} {within}"
    elif not seen.bookable:
        said = f"No {leg.label} {within} takes bookings"
    elif not seen.free:
        said = f"No {leg.label} free {wish.window} on {wish.day} {within}"
    else:
        best = f" (the best free one has {seen.best_credit})" if seen.best_credit else ""
        said = (
            f"No {leg.label} free {wish.window} {within} has credit {wish.min_credit} or more{best}"
        )
    km = _nearest_fit(session, clock, zone, me, wish, index)
    if km is None:
        return f"{said}, nor within {wish.radius_km * 4:g} km."
    return f"{said}; the nearest one that would fit is {search.fmt_km(km)} away."


def _nearest_fit(
    session: Session, clock: Clock, zone: str, me: User, wish: Wish, index: int
) -> float | None:
    """How far the nearest listing that would fill the leg is (free, trusted enough),
    within four times the radius: the nearest SCAN matches are looked at, no more."""
    lat, lon, _ = origin_of(me, wish)
    wider = min(search.RADIUS_MAX_KM, wish.radius_km * 4)
    for hit in _found(session, me, wish.legs[index], lat, lon, wider, search.Sort.nearest):
        option = _option(session, clock, zone, wish, index, hit)
        if option is not None and option.starts and _trusted(option, wish):
            return hit.found.km
    return None


@dataclass(frozen=True)
class Planned:
    """The plans found for a wish (best first) and why legs or plans are missing."""

    fitted: list[Fitted]
    unfilled: list[str]
    origin: tuple[float, float, str]


def plan(session: Session, clock: Clock, zone: str, me: User, wish: Wish) -> Planned:
    """The plans for `wish` (in a write transaction: listings waiting to be indexed are
    indexed first, as a search would)."""
    if search.pending(session):
        search.catch_up(session)
    keep = per_leg(len(wish.legs))
    legs = [leg_options(session, clock, zone, me, wish, i, keep) for i in range(len(wish.legs))]
    unfilled = [f"{i + 1}. {leg.unfilled}" for i, leg in enumerate(legs) if leg.unfilled]
    origin = origin_of(me, wish)
    if unfilled:
        return Planned([], unfilled, origin)
    options = [leg.options for leg in legs]
    where, first, last = (origin[0], origin[1]), wish.start, wish.end
    found = plans(options, where, first, last, fixed_order=wish.fixed_order, budget=wish.budget)
    if found:
        return Planned(found, [], origin)
    return Planned([], [_why_no_plan(options, where, wish)], origin)


def _why_no_plan(options: list[list[Option]], where: tuple[float, float], wish: Wish) -> str:
    """Every leg has someone free, yet no plan: over budget, or they don't fit together."""
    unbounded = plans(options, where, wish.start, wish.end, fixed_order=wish.fixed_order, limit=1)
    if unbounded and wish.budget is not None:
        return (
            f"The cheapest plan that fits costs {money.fmt(unbounded[0].total)}, over the "
            f"budget of {money.fmt(wish.budget)}."
        )
    order = "in the order given" if wish.fixed_order else "in any order"
    return (
        f"Every leg has someone free, but the legs don't fit one after another "
        f"{order} within {wish.window} with the travel between them: widen the window."
    )


def replacements(
    session: Session,
    clock: Clock,
    zone: str,
    me: User,
    wish: Wish,
    index: int,
    *,
    after: tuple[float, float, int],
    before: tuple[float, float, int] | None,
    avoid: set[int],
    limit: int = 3,
) -> list[Fitted]:
    """Listings that can still fill leg `index` of a booked day: free after the leg
    before it (`after`: its place and end) with time to reach the leg after it
    (`before`: its place and start), from sellers not already in the plan."""
    found = []
    for option in leg_options(session, clock, zone, me, wish, index, SCAN).options:
        if option.seller_id in avoid:
            continue
        last = wish.end
        if before is not None:
            last = min(last, before[2] - travel_seconds(option.lat, option.lon, *before[:2]))
        fitted = schedule([option], (after[0], after[1]), after[2], last)
        if fitted is not None:
            found.append(fitted)
    found.sort(key=lambda f: f.rank())
    return found[:limit]
