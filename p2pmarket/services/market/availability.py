"""When a skill or time listing can be booked: weekly hours in the market's time zone, a
slot length from its unit, buffers, a minimum notice, a booking window and days off.

The hours are the seller's settings; which slots are free also depends on the live
orders holding the seller's time, whose claims (services/money/orders/slots.py) are read
here but written only by booking. Every instant is UTC seconds; the zone turns weekdays
and "10:00" into instants, so the code keeps working where clocks move for daylight.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from p2pmarket.clock import DAY, HOUR, MINUTE, Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Kind, Listing, ListingHours, RentalClaim, SlotClaim, Unit, User

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A seller's time is claimed in blocks of this many seconds; hours, slots and buffers are
# whole blocks, so a claim covers exactly the booked time and its buffers.
BLOCK = 5 * MINUTE
MAX_WINDOW_DAYS = 365
MAX_BUFFER_MINUTES = 240
MAX_NOTICE_HOURS = 24 * 14
MAX_SLOT_MINUTES = 12 * 60

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

Week = dict[int, list[tuple[int, int]]]


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("unknown_zone", f"Unknown time zone {name!r}.") from exc


def parse_week(spec: str) -> Week:
    """'mon-fri 09:00-18:00, sat 10:00-14:00' -> {0: [(540, 1080)], …, 5: [(600, 840)]}.

    Each comma-separated part is a day or a run of days, then one or more ranges.
    """
    week: Week = {}
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise Invalid("hours_empty", 'Give the hours, e.g. "mon-fri 09:00-18:00, sat 10:00-14:00".')
    for part in parts:
        words = part.lower().split()
        if len(words) < 2:
            raise Invalid(
                "hours_format", f"{part!r}: give days then times, e.g. 'mon-fri 09:00-18:00'."
            )
        for day in _days(words[0]):
            week.setdefault(day, []).extend(_range(r, part) for r in words[1:])
    for day, ranges in week.items():
        ranges.sort()
        for (_, end), (start, _) in pairwise(ranges):
            if start < end:
                raise Invalid("hours_overlap", f"The hours of {WEEKDAYS[day]} overlap.")
    return week


def _days(word: str) -> list[int]:
    first, _, last = word.partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise Invalid(
            "hours_day", f"{word!r} is not a day or run of days (mon … sun, e.g. mon-fri)."
        )
    a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if b < a:
        raise Invalid("hours_day", f"{word!r}: a run of days goes forward, e.g. mon-fri.")
    return list(range(a, b + 1))


def _range(word: str, part: str) -> tuple[int, int]:
    m = _RANGE.match(word)
    if m is None:
        raise Invalid("hours_format", f"{part!r}: {word!r} is not a time range like 09:00-18:00.")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
        raise Invalid("hours_format", f"{word!r} is not a time range within one day.")
    if end <= start:
        raise Invalid("hours_format", f"{word!r} ends before it starts.")
    if start % 5 or end % 5:
        raise Invalid("hours_format", f"{word!r}: hours start and end on 5-minute marks.")
    return start, end


def format_week(week: Week) -> str:
    """The week as `parse_week` reads it, runs of days with equal hours joined."""
    parts, day = [], 0
    while day < 7:
        ranges = week.get(day)
        if not ranges:
            day += 1
            continue
        last = day
        while last + 1 < 7 and week.get(last + 1) == ranges:
            last += 1
        days = WEEKDAYS[day] if last == day else f"{WEEKDAYS[day]}-{WEEKDAYS[last]}"
        times = " ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in ranges)
        parts.append(f"{days} {times}")
        day = last + 1
    return ", ".join(parts)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Hours:
    """A listing's bookable time as the faces see it and booking checks it."""

    listing_id: int
    seller_id: int
    week: str
    slot_minutes: int
    buffer_before: int
    buffer_after: int
    notice_hours: int
    window_days: int
    days_off: list[str]
    zone: str

    @property
    def slot(self) -> int:
        return self.slot_minutes * MINUTE

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Slot:
    start: int
    end: int

    def to_json(self) -> dict:
        return asdict(self)


def set_hours(
    session: Session,
    clock: Clock,
    seller: User,
    listing_id: int,
    spec: str,
    *,
    zone: str,
    slot_minutes: int | None = None,
    buffer_before: int = 0,
    buffer_after: int = 0,
    notice_hours: int = 0,
    window_days: int = 30,
    days_off: list[str] | tuple[str, ...] = (),
) -> Hours:
    """Replace the weekly hours of a skill or time listing of `seller`."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if listing.seller_id != seller.id:
        raise Refused("not_your_listing", f"Listing #{listing_id} belongs to another seller.")
    if listing.kind == Kind.goods or listing.unit not in (Unit.hour, Unit.session):
        raise Refused(
            "not_bookable",
            f"Listing #{listing_id} is {listing.kind} by the {listing.unit}; only skills and "
            "time sold by the hour or the session take bookable hours.",
        )
    week = parse_week(spec)
    if listing.unit == Unit.hour:
        if slot_minutes not in (None, 60):
            raise Invalid("slot_length", "A listing by the hour has 60-minute slots.")
        slot_minutes = 60
    slot_minutes = _bounded(slot_minutes or 60, 5, MAX_SLOT_MINUTES, "slot", "minutes")
    if slot_minutes % 5:
        raise Invalid("slot_length", "A session lasts a whole number of 5-minute marks.")
    for minutes, what in ((buffer_before, "buffer before"), (buffer_after, "buffer")):
        _bounded(minutes, 0, MAX_BUFFER_MINUTES, what, "minutes")
        if minutes % 5:
            raise Invalid("buffer", f"The {what} is a whole number of 5-minute marks.")
    _bounded(notice_hours, 0, MAX_NOTICE_HOURS, "notice", "hours")
    _bounded(window_days, 1, MAX_WINDOW_DAYS, "booking window", "days")
    offs = sorted({_date(d) for d in days_off})
    if not any(b - a >= slot_minutes for ranges in week.values() for a, b in ranges):
        raise Invalid("hours_short", f"No range of these hours holds a {slot_minutes}-minute slot.")
    row = session.get(ListingHours, listing_id) or ListingHours(listing_id=listing_id, week="")
    row.week = json.dumps({str(d): r for d, r in sorted(week.items())})
    row.slot_minutes, row.buffer_before, row.buffer_after = (
        slot_minutes,
        buffer_before,
        buffer_after,
    )
    row.notice, row.window_days = notice_hours * HOUR, window_days
    row.days_off, row.updated_at = json.dumps(offs), clock.now()
    session.add(row)
    session.flush()
    return _view(row, listing.seller_id, zone)


def _bounded(value: int, low: int, high: int, what: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid("hours_range", f"The {what} is {low} to {high} {unit}; got {value}.")
    return value


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as exc:
        raise Invalid("day_off", f"{text!r} is not a date like 2026-12-25.") from exc


def _view(row, seller_id: int, zone: str) -> Hours:
    week = {int(d): [tuple(r) for r in rs] for d, rs in json.loads(row.week).items()}
    return Hours(
        listing_id=row.listing_id,
        seller_id=seller_id,
        week=format_week(week),
        slot_minutes=row.slot_minutes,
        buffer_before=row.buffer_before,
        buffer_after=row.buffer_after,
        notice_hours=row.notice // HOUR,
        window_days=row.window_days,
        days_off=json.loads(row.days_off),
        zone=zone,
    )


# A listing's hours and its seller in one Core read: the free-slot lookup runs per keystroke
# of a week view and per booking, and the ORM's identity map costs more than the SQL here.
_HOURS_TABLE, _LISTING_TABLE = ListingHours.__table__, Listing.__table__
_HOURS = (
    select(_HOURS_TABLE, _LISTING_TABLE.c.seller_id)
    .join(_LISTING_TABLE, _LISTING_TABLE.c.id == _HOURS_TABLE.c.listing_id)
    .where(_HOURS_TABLE.c.listing_id == bindparam("listing_id"))
)
_CLAIMS = SlotClaim.__table__
_HELD = (
    select(func.min(_CLAIMS.c.block), func.max(_CLAIMS.c.block))
    .where(
        _CLAIMS.c.seller_id == bindparam("seller_id"),
        _CLAIMS.c.block.between(bindparam("first"), bindparam("last")),
    )
    .group_by(_CLAIMS.c.order_id)
)


def hours_of(session: Session, listing_id: int, zone: str) -> Hours | None:
    """A listing's hours, or None when it takes no bookings."""
    row = session.connection().execute(_HOURS, {"listing_id": listing_id}).first()
    return None if row is None else _view(row, row.seller_id, zone)


def _bookable(session: Session, listing_id: int, zone: str) -> Hours:
    hours = hours_of(session, listing_id, zone)
    if hours is not None:
        return hours
    if session.get(Listing, listing_id) is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    raise Refused(
        "no_hours",
        f"Listing #{listing_id} takes no bookings: its seller has set no hours.",
    )


def claim_span(hours: Hours, start: int, end: int) -> tuple[int, int]:
    """The seller's time a booking of [start, end) holds: with its buffers either side."""
    return start - hours.buffer_before * MINUTE, end + hours.buffer_after * MINUTE


def offered(hours: Hours, first: int, last: int) -> list[Slot]:
    """Every slot the weekly hours offer that starts in [first, last]."""
    zone = ZoneInfo(hours.zone)
    week = parse_week(hours.week)
    offs = set(hours.days_off)
    day = datetime.fromtimestamp(first, zone).date()
    end_day = datetime.fromtimestamp(last, zone).date()
    step = hours.slot_minutes
    slots = []
    while day <= end_day:
        if day.isoformat() not in offs:
            for a, b in week.get(day.weekday(), ()):
                minutes = range(a, b - step + 1, step)
                opens = _instant(day, a, zone)
                if _instant(day, b, zone) - opens == (b - a) * MINUTE:
                    starts = [opens + (m - a) * MINUTE for m in minutes]
                else:  # the clocks move inside these hours: each slot on the wall clock
                    starts = [_instant(day, m, zone) for m in minutes]
                slots.extend(Slot(t, t + hours.slot) for t in starts if first <= t <= last)
        day += timedelta(days=1)
    return slots


def _instant(day: date, minutes: int, zone: ZoneInfo) -> int:
    wall = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)
    return int(wall.timestamp())


def _horizon(hours: Hours, now: int) -> tuple[int, int]:
    """The first and last instants a slot may start at, from now."""
    return now + hours.notice_hours * HOUR, now + hours.window_days * DAY


def _held(session: Session, seller_id: int, first: int, last: int) -> list[tuple[int, int]]:
    """The seller's time held by live orders between two instants: (first block, end
    block) per order, sorted. An order's claim is one run of blocks."""
    found = session.connection().execute(
        _HELD, {"seller_id": seller_id, "first": first // BLOCK, "last": last // BLOCK}
    )
    return sorted((low, high + 1) for low, high in found)


def _clear(span: tuple[int, int], held: list[tuple[int, int]]) -> bool:
    """Does no held run of blocks overlap this span of time?"""
    low, high = span[0] // BLOCK, (span[1] + BLOCK - 1) // BLOCK
    # The runs are disjoint (one seller's claims never overlap), so sorted by start they
    # are sorted by end too: only the last run starting before `high` can reach `low`.
    i = bisect_left(held, (high, high))
    return i == 0 or held[i - 1][1] <= low


def blocks(span: tuple[int, int]) -> range:
    return range(span[0] // BLOCK, (span[1] + BLOCK - 1) // BLOCK)


def free_slots(
    session: Session, clock: Clock, zone: str, listing_id: int, *, days: int = 7, since=None
) -> list[Slot]:
    """The free slots of a listing from `since` (default now) for `days` days, within
    its notice and booking window, off its days off and clear of other live bookings."""
    return free_in(session, clock, _bookable(session, listing_id, zone), days=days, since=since)


def free_in(
    session: Session, clock: Clock, hours: Hours, *, days: int = 7, since=None
) -> list[Slot]:
    """`free_slots` of a listing whose hours were read already (a planner reads many)."""
    now = clock.now()
    first, last = _horizon(hours, now)
    first = max(first, since or now)
    last = min(last, (since or now) + days * DAY)
    if last < first:
        return []
    slots = offered(hours, first, last)
    if not slots:
        return []
    span = claim_span(hours, slots[0].start, slots[-1].end)
    held = _held(session, hours.seller_id, *span)
    return [s for s in slots if _clear(claim_span(hours, s.start, s.end), held)]


def check_slot(
    session: Session, clock: Clock, zone: str, listing_id: int, start: int, count: int
) -> tuple[Hours, Slot]:
    """The booking of `count` slots from `start` that a buyer asked for, or why not."""
    hours = _bookable(session, listing_id, zone)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 12:
        raise Invalid("slot_count", "Book 1 to 12 consecutive slots.")
    now = clock.now()
    first, last = _horizon(hours, now)
    when = local(start, hours.zone)
    if start < now:
        raise Refused("slot_past", f"{when} has passed.")
    if start < first:
        raise Refused(
            "slot_notice",
            f"Listing #{listing_id} needs {hours.notice_hours} h notice: book "
            f"{local(first, hours.zone)} or later.",
        )
    if start > last:
        raise Refused(
            "slot_window",
            f"Listing #{listing_id} takes bookings up to {hours.window_days} days ahead "
            f"(until {local(last, hours.zone)}).",
        )
    day = datetime.fromtimestamp(start, ZoneInfo(hours.zone)).date()
    if day.isoformat() in hours.days_off:
        raise Refused("slot_day_off", f"{day.isoformat()} is a day off for listing #{listing_id}.")
    end = start + count * hours.slot
    starts = {s.start for s in offered(hours, start, start + (count - 1) * hours.slot)}
    if any(start + i * hours.slot not in starts for i in range(count)):
        raise Refused(
            "slot_outside_hours",
            f"{when} for {count} × {hours.slot_minutes} min is not within the slots of "
            f"listing #{listing_id}: {hours.slot_minutes}-minute slots from the start of its "
            f"hours ({hours.week}).",
        )
    span = claim_span(hours, start, end)
    if not _clear(span, _held(session, hours.seller_id, *span)):
        raise slot_taken(listing_id, when)
    return hours, Slot(start, end)


def slot_taken(listing_id: int, when: str) -> Refused:
    return Refused(
        "slot_taken",
        f"{when} is taken: the seller of listing #{listing_id} is booked then (with the "
        "buffers between bookings). Pick another "
        f"slot (p2pmarket listing slots {listing_id}).",
    )


def local(instant: int, zone: str) -> str:
    """An instant as the market's people read it: '2026-12-05 10:00 (UTC+08:00)'."""
    moment = datetime.fromtimestamp(instant, ZoneInfo(zone))
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def parse_local(text: str, zone: str) -> int:
    """'2026-12-05T10:00' on the market's wall clock (an explicit offset wins)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid("bad_time", f"{text!r} is not a time like 2026-12-05T10:00.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(zone))
    return int(moment.timestamp())


# -- rental periods ------------------------------------------------------------------------
# Goods by the day are rented for whole days of the market's calendar: from the first
# day's midnight to the return day's midnight. Each rented day of an item is claimed in
# the store (orders/slots.py `claim_days`), as a booked slot claims its seller's blocks.
MAX_RENTAL_DAYS = 90
RENTAL_WINDOW_DAYS = 365
_EPOCH = date(1970, 1, 1).toordinal()
_RENTED = RentalClaim.__table__
_TAKEN_DAYS = select(_RENTED.c.day).where(
    _RENTED.c.listing_id == bindparam("listing_id"),
    _RENTED.c.day.between(bindparam("first"), bindparam("last")),
)


@dataclass(frozen=True)
class Period:
    """Whole days rented: from `first` to `back` (the return day, not rented)."""

    first: date
    back: date
    start: int  # the first day's midnight (UTC seconds)
    end: int  # the return day's midnight

    @property
    def days(self) -> int:
        return (self.back - self.first).days

    def day_numbers(self) -> range:
        return range(day_number(self.first), day_number(self.back))


def rentable(listing: Listing) -> bool:
    """Goods by the day are rented for a period, never bought."""
    return listing.kind == Kind.goods and listing.unit == Unit.day


def day_number(day: date) -> int:
    return day.toordinal() - _EPOCH


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise Invalid("bad_day", f"{text!r} is not a day like 2026-12-05.") from exc


def today(clock: Clock, zone: str) -> date:
    return datetime.fromtimestamp(clock.now(), zone_of(zone)).date()


def period(first: date, back: date, zone: str) -> Period:
    tz = zone_of(zone)
    return Period(first, back, _instant(first, 0, tz), _instant(back, 0, tz))


def taken_days(session: Session, listing_id: int, first: date, last: date) -> set[date]:
    """The days between `first` and `last` (both in) that live rentals hold."""
    found = session.connection().execute(
        _TAKEN_DAYS,
        {"listing_id": listing_id, "first": day_number(first), "last": day_number(last)},
    )
    return {date.fromordinal(n + _EPOCH) for n in found.scalars()}


def rental_calendar(
    session: Session, listing_id: int, first: date, days: int
) -> tuple[Listing, set[date]]:
    """A rentable listing and its days taken among the `days` days from `first`."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if not rentable(listing):
        raise Refused(
            "not_rentable", f"Listing #{listing_id} is not rented by the day; it has no calendar."
        )
    if not 1 <= days <= RENTAL_WINDOW_DAYS:
        raise Invalid("calendar_days", f"Show 1 to {RENTAL_WINDOW_DAYS} days.")
    return listing, taken_days(session, listing_id, first, first + timedelta(days=days - 1))


def check_period(
    session: Session, clock: Clock, zone: str, listing: Listing, first: date, back: date
) -> Period:
    """The rental of `listing` from `first` until `back` that a renter asked for, or why not."""
    if not rentable(listing):
        raise Refused(
            "not_rentable",
            f"Listing #{listing.id} is {listing.kind} by the {listing.unit}; only goods by the "
            "day are rented for a period (leave --from and --to out).",
        )
    now = today(clock, zone)
    if first < now:
        raise Refused("period_past", f"{first.isoformat()} has passed; rent from today on.")
    if back <= first:
        raise Invalid("period_order", "The return day (--to) comes after the first day (--from).")
    if (back - first).days > MAX_RENTAL_DAYS:
        raise Invalid("period_long", f"A rental lasts at most {MAX_RENTAL_DAYS} days.")
    if first > now + timedelta(days=RENTAL_WINDOW_DAYS):
        raise Refused("period_window", f"Rentals start at most {RENTAL_WINDOW_DAYS} days ahead.")
    taken = taken_days(session, listing.id, first, back - timedelta(days=1))
    if taken:
        raise period_taken(listing.id, min(taken))
    return period(first, back, zone)


def period_taken(listing_id: int, day: date) -> Refused:
    return Refused(
        "period_taken",
        f"Listing #{listing_id} is rented on {day.isoformat()}; pick other days "
        f"(p2pmarket listing calendar {listing_id}).",
    )
