"""Fitting legs into a day, without the store: which listing per leg, in which order, at
which free slot, with the travel between places, cheapest first.

Every option of a leg is one listing with the starts where its booking is free. For a
choice of one option per leg and an order of visiting them, taking each leg's earliest
free start after arriving is best: a leg that ends earlier never leaves the next one
fewer starts. So a choice fits or not in one pass per order, and the plans are the
cheapest choices that fit (different sellers first), each in its least-travelled order.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from p2pmarket.clock import MINUTE
from p2pmarket.geo import haversine_km
from p2pmarket.services.market.search import round_km

# Below this many (rounded) kilometres people walk, further they ride through the city.
WALK_KM = 1.5
WALK_KMH = 5.0
CITY_KMH = 20.0
# Travel is counted in whole steps of this many minutes (the blocks slots are made of).
TRAVEL_STEP_MINUTES = 5
MAX_PLANS = 5


@dataclass(frozen=True)
class Option:
    """One listing that may fill a leg: its price for the leg, its seller, where it is
    (the seller's public point), and every start where its booking is free that day."""

    leg: int
    listing_id: int
    seller_id: int
    amount: int
    lat: float
    lon: float
    starts: tuple[int, ...]
    length: int
    buffer_before: int = 0
    buffer_after: int = 0
    credit: int | None = None


@dataclass(frozen=True)
class Fitted:
    """One plan: the options in the order they are visited, their starts, and the seconds
    travelled to each (from the start of the day, then from the leg before)."""

    options: tuple[Option, ...]
    starts: tuple[int, ...]
    travel: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(o.amount for o in self.options)

    @property
    def travelling(self) -> int:
        return sum(self.travel)

    @property
    def repeats_seller(self) -> bool:
        return len({o.seller_id for o in self.options}) < len(self.options)

    def rank(self) -> tuple:
        return (self.repeats_seller, self.total, self.travelling, self.starts)


def travel_seconds(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """The way between two places from their rounded distance: a walk below WALK_KM, else a
    ride at a city speed; in whole steps of TRAVEL_STEP_MINUTES."""
    km = round_km(haversine_km(lat1, lon1, lat2, lon2))
    speed = WALK_KMH if km < WALK_KM else CITY_KMH
    steps = math.ceil(km / speed * 60 / TRAVEL_STEP_MINUTES - 1e-9)
    return steps * TRAVEL_STEP_MINUTES * MINUTE


def _claim(option: Option, start: int) -> tuple[int, int]:
    return start - option.buffer_before, start + option.length + option.buffer_after


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def schedule(
    visit: Sequence[Option], origin: tuple[float, float], first: int, last: int
) -> Fitted | None:
    """Each leg at its earliest free start after arriving from the place before, all of
    them ending by `last`; None when they do not fit in this order."""
    here, at = origin, first
    starts, travel, held = [], [], []
    for option in visit:
        way = travel_seconds(*here, option.lat, option.lon)
        i = bisect_left(option.starts, at + way)
        while i < len(option.starts):
            start = option.starts[i]
            claim = _claim(option, start)
            same = (c for s, c in held if s == option.seller_id)
            if not any(_overlaps(claim, c) for c in same):
                break
            i += 1
        else:
            return None
        if start + option.length > last:
            return None
        starts.append(start)
        travel.append(way)
        held.append((option.seller_id, _claim(option, start)))
        here, at = (option.lat, option.lon), start + option.length
    return Fitted(tuple(visit), tuple(starts), tuple(travel))


def _best_order(
    choice: tuple[Option, ...], origin: tuple[float, float], first: int, last: int, fixed: bool
) -> Fitted | None:
    orders = [choice] if fixed else itertools.permutations(choice)
    fitted = (schedule(order, origin, first, last) for order in orders)
    return min((f for f in fitted if f is not None), key=Fitted.rank, default=None)


def plans(
    options: Sequence[Sequence[Option]],
    origin: tuple[float, float],
    first: int,
    last: int,
    *,
    fixed_order: bool = False,
    budget: int | None = None,
    limit: int = MAX_PLANS,
) -> list[Fitted]:
    """Up to `limit` plans, one option per leg (no listing twice), different sellers first,
    then cheapest, then least travelling; within `budget` when one is given."""
    choices = list(_choices(options, budget))

    def cost(choice: tuple[Option, ...]) -> tuple[bool, int]:
        return len({o.seller_id for o in choice}) < len(choice), sum(o.amount for o in choice)

    choices.sort(key=cost)
    found: list[Fitted] = []
    for _, group in itertools.groupby(choices, key=cost):
        if len(found) >= limit:
            break
        fitted = (_best_order(c, origin, first, last, fixed_order) for c in group)
        found.extend(sorted((f for f in fitted if f is not None), key=Fitted.rank))
    return found[:limit]


def _choices(
    options: Sequence[Sequence[Option]], budget: int | None
) -> Iterable[tuple[Option, ...]]:
    """One option per leg, no listing twice, within the budget."""
    for choice in itertools.product(*options):
        if len({o.listing_id for o in choice}) < len(choice):
            continue
        if budget is None or sum(o.amount for o in choice) <= budget:
            yield choice


def brute_force(
    options: Sequence[Sequence[Option]],
    origin: tuple[float, float],
    first: int,
    last: int,
    *,
    fixed_order: bool = False,
    budget: int | None = None,
) -> Iterable[Fitted]:
    """Every plan there is: every option per leg, every order, every start of every leg.

    The naive baseline `plans` is checked against (tests, `bench plan`), not a way to plan.
    """
    for choice in _choices(options, budget):
        for order in [choice] if fixed_order else itertools.permutations(choice):
            for starts in itertools.product(*(o.starts for o in order)):
                fitted = _check(order, starts, origin, first, last)
                if fitted is not None:
                    yield fitted


def _check(
    order: Sequence[Option],
    starts: Sequence[int],
    origin: tuple[float, float],
    first: int,
    last: int,
) -> Fitted | None:
    """These starts, as they are: in sequence with the travel, inside the window, and one
    seller's bookings apart (buffers included)?"""
    here, at, travel = origin, first, []
    for i, (option, start) in enumerate(zip(order, starts, strict=True)):
        way = travel_seconds(*here, option.lat, option.lon)
        if start < at + way or start + option.length > last:
            return None
        for earlier, when in zip(order[:i], starts[:i], strict=False):
            if earlier.seller_id == option.seller_id and _overlaps(
                _claim(earlier, when), _claim(option, start)
            ):
                return None
        travel.append(way)
        here, at = (option.lat, option.lon), start + option.length
    return Fitted(tuple(order), tuple(starts), tuple(travel))
