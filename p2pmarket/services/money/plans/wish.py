"""A wish as a person states it: its legs ("babysitting ×2", "cooking class"), the day and
the window of time, where the day starts, the party, the budget and the credit floor."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from p2pmarket import money, text
from p2pmarket.errors import Invalid, MarketError
from p2pmarket.services.market import availability, catalog, search

MAX_LEGS = 5
MAX_PARTY = 20
RADIUS_DEFAULT_KM = 5.0
RADIUS_MAX_KM = 50.0
# The words of a leg; with its "×N" it fits plan_legs.wish (60 characters).
LEG_MAX_CHARS = 50
_TIMES = re.compile(r"^\s*(.*?)\s*[×xX*]\s*(\d{1,2})\s*$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class LegWish:
    """One leg: a category (when the words name one) or free text, and how many slots in
    a row (`×2`: two hours of babysitting, two sessions of help)."""

    words: str
    category: str | None
    count: int = 1

    @property
    def label(self) -> str:
        return self.words if self.count == 1 else f"{self.words} ×{self.count}"


@dataclass(frozen=True)
class Wish:
    legs: tuple[LegWish, ...]
    day: str
    start: int
    end: int
    window: str
    area: str | None = None
    party: int = 1
    budget: int | None = None
    min_credit: int | None = None
    fixed_order: bool = False
    radius_km: float = RADIUS_DEFAULT_KM

    def to_json(self) -> dict:
        data = asdict(self)
        data["legs"] = [asdict(leg) for leg in self.legs]
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, raw: str) -> Wish:
        data = json.loads(raw)
        data["legs"] = tuple(LegWish(**leg) for leg in data["legs"])
        return cls(**data)


def parse_legs(spec: str) -> tuple[LegWish, ...]:
    """'babysitting ×2, cooking-class, family photos' -> three legs."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise Invalid("plan_no_legs", 'Name the legs, e.g. --legs "babysitting,cooking-class".')
    if len(parts) > MAX_LEGS:
        raise Invalid(
            "plan_too_many_legs", f"A plan has at most {MAX_LEGS} legs; got {len(parts)}."
        )
    return tuple(_leg(p) for p in parts)


def _leg(part: str) -> LegWish:
    count = 1
    found = _TIMES.match(part)
    if found is not None:
        if not found[1]:
            raise Invalid(
                "plan_leg_words", f"{part!r} names no leg: words first, e.g. babysitting ×2."
            )
        part, count = found[1], int(found[2])
    if not 1 <= count <= 12:
        raise Invalid("plan_leg_count", f"{part!r} ×{count}: a leg is 1 to 12 slots in a row.")
    words = text.clean(part, field="leg", max_len=LEG_MAX_CHARS)
    try:
        category = catalog.category(words.replace(" ", "-")).slug
    except MarketError:
        try:
            category = catalog.category(words).slug
        except MarketError:
            category = None
    return LegWish(words=category or words, category=category, count=count)


def _minutes(clock_text: str, what: str) -> int:
    found = _CLOCK.match(clock_text.strip())
    if found is None or int(found[1]) > 24 or int(found[2]) > 59:
        raise Invalid("plan_time", f"--{what} {clock_text[:12]!r} is not a time like 13:00.")
    return int(found[1]) * 60 + int(found[2])


def make_wish(
    legs: str,
    day: str,
    start: str,
    end: str,
    *,
    zone: str,
    area: str | None = None,
    party: int = 1,
    budget: str | None = None,
    min_credit: int | str | None = None,
    fixed_order: bool = False,
    radius_km: float = RADIUS_DEFAULT_KM,
) -> Wish:
    """Check and read a wish as typed in either face; times are the market's wall clock
    (`min_credit` may be the text of a form's field)."""
    if isinstance(min_credit, str):
        min_credit = search.parse_min_credit(min_credit)
    try:
        the_day = date.fromisoformat(day.strip())
    except ValueError as exc:
        raise Invalid("plan_day", f"{day[:20]!r} is not a day like 2026-12-05.") from exc
    first, last = _minutes(start, "from"), _minutes(end, "to")
    if last <= first:
        raise Invalid("plan_window", f"The window {start}–{end} ends before it starts.")
    if last > 24 * 60:
        raise Invalid("plan_window", "The window ends by midnight.")
    if isinstance(party, bool) or not 1 <= party <= MAX_PARTY:
        raise Invalid("plan_party", f"A party is 1 to {MAX_PARTY} people.")
    if min_credit is not None and not 0 <= min_credit <= 1000:
        raise Invalid("credit_range", "The minimum credit must be between 0 and 1000.")
    if not (math.isfinite(radius_km) and 0 < radius_km <= RADIUS_MAX_KM):
        raise Invalid(
            "radius_range", f"The radius is more than 0 and at most {RADIUS_MAX_KM:g} km."
        )
    if area is not None:
        area = catalog.area(area).slug
    the_zone = availability.zone_of(zone)
    midnight = datetime.combine(the_day, time(0), tzinfo=the_zone)
    return Wish(
        legs=parse_legs(legs),
        day=the_day.isoformat(),
        start=int((midnight + timedelta(minutes=first)).timestamp()),
        end=int((midnight + timedelta(minutes=last)).timestamp()),
        window=f"{_hhmm(first)}–{_hhmm(last)}",
        area=area,
        party=party,
        budget=money.parse(budget) if budget is not None else None,
        min_credit=min_credit,
        fixed_order=fixed_order,
        radius_km=radius_km,
    )


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
