"""Bookings: a seller's weekly hours, the free slots a buyer sees, booking a slot; and
rentals: a rentable item's calendar of taken days, renting it for a period.

`BookingCases` holds what a person does (set hours, book, rent); the functions below it
need nobody logged in (a listing's hours, free slots and calendar are public, like it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from p2pmarket.market.base import ActorBase
from p2pmarket.services.market import availability
from p2pmarket.services.money import orders

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.market import Market
    from p2pmarket.models import User


@dataclass(frozen=True)
class Week:
    """A listing's hours and its free slots over the next days."""

    hours: availability.Hours
    slots: list[availability.Slot]

    def to_json(self) -> dict:
        return {"hours": self.hours.to_json(), "slots": [s.to_json() for s in self.slots]}

    def grid(self, first: date, days: int = 7) -> tuple[list[date], list[str], dict]:
        """The slots as a week view on the market's wall clock: its days, the times of day
        any slot starts at, and (day, time) -> the free slot there."""
        zone = ZoneInfo(self.hours.zone)
        cells = {}
        for slot in self.slots:
            wall = datetime.fromtimestamp(slot.start, zone)
            cells[(wall.date(), f"{wall:%H:%M}")] = slot
        return (
            [first + timedelta(days=i) for i in range(days)],
            sorted({time for _, time in cells}),
            cells,
        )

    def at(self, slot: availability.Slot) -> str:
        """A slot's start as `book` reads it (with its offset)."""
        return datetime.fromtimestamp(slot.start, ZoneInfo(self.hours.zone)).isoformat()


@dataclass(frozen=True)
class Calendar:
    """A rentable listing's days from `first`: which are taken, what a day costs."""

    listing_id: int
    first: date
    days: int
    taken: list[date]
    price: int
    deposit: int

    def to_json(self) -> dict:
        return {
            "listing_id": self.listing_id,
            "first": self.first.isoformat(),
            "days": self.days,
            "taken": [d.isoformat() for d in self.taken],
            "price": self.price,
            "deposit": self.deposit,
        }

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def cost(self, first: date, back: date) -> int:
        """Rent for the days from `first` until `back`, plus the deposit."""
        return self.price * (back - first).days + self.deposit


class BookingCases(ActorBase):
    """The booking use cases of `market.Actor`."""

    def set_hours(
        self,
        listing_id: int,
        spec: str,
        *,
        slot_minutes: int | None = None,
        buffer_before: int = 0,
        buffer_after: int = 0,
        notice_hours: int = 0,
        window_days: int = 30,
        days_off: list[str] | tuple[str, ...] = (),
    ) -> availability.Hours:
        """Replace the weekly hours of one of my skill or time listings."""

        def work(session: Session, me: User):
            return availability.set_hours(
                session,
                self.market.clock,
                me,
                listing_id,
                spec,
                zone=self.market.settings.zone,
                slot_minutes=slot_minutes,
                buffer_before=buffer_before,
                buffer_after=buffer_after,
                notice_hours=notice_hours,
                window_days=window_days,
                days_off=days_off,
            )

        return self._write(work)

    def book(self, listing_id: int, at: str, count: int = 1) -> orders.OrderView:
        """Ask for `count` consecutive slots of a listing from `at` (the market's wall
        clock, e.g. 2026-12-05T10:00): a requested order holding the seller's time."""
        start = availability.parse_local(at, self.market.settings.zone)

        def work(session: Session, me: User):
            return orders.book_slot(
                session, self.market.clock, self.market.settings, me, listing_id, start, count
            )

        return self._write(work)

    def rent(self, listing_id: int, first: str, back: str) -> orders.OrderView:
        """Ask to rent a listing of goods by the day from `first` until `back` (the return
        day, ISO dates on the market's calendar): a requested order holding those days."""
        first_day, back_day = availability.parse_day(first), availability.parse_day(back)

        def work(session: Session, me: User):
            return orders.rent_item(
                session,
                self.market.clock,
                self.market.settings,
                me,
                listing_id,
                first_day,
                back_day,
            )

        return self._write(work)


def calendar(market: Market, listing_id: int, first: date | None = None, days: int = 28):
    """A rentable listing's taken days for `days` days from `first` (default today)."""
    first = first or today(market)
    with market.store.read() as session:
        listing, taken = availability.rental_calendar(session, listing_id, first, days)
        return Calendar(listing_id, first, days, sorted(taken), listing.price, listing.deposit or 0)


def week(market: Market, listing_id: int, days: int = 7, since: str | None = None) -> Week:
    """A listing's hours and its free slots for `days` days from `since` (default now)."""
    zone = market.settings.zone
    start = availability.parse_local(since, zone) if since else None
    with market.store.read() as session:
        slots = availability.free_slots(
            session, market.clock, zone, listing_id, days=days, since=start
        )
        return Week(availability.hours_of(session, listing_id, zone), slots)


def hours(market: Market, listing_id: int) -> availability.Hours | None:
    """A listing's bookable hours, or None when it takes no bookings."""
    with market.store.read() as session:
        return availability.hours_of(session, listing_id, market.settings.zone)


def parse_day(text: str) -> date:
    """A day as the faces take it: 2026-12-05."""
    return availability.parse_day(text)


def today(market: Market) -> date:
    """The market's date now, on its wall clock."""
    return datetime.fromtimestamp(market.clock.now(), ZoneInfo(market.settings.zone)).date()


def local(market: Market, instant: int) -> str:
    """An instant on the market's wall clock, as every face prints a slot."""
    return availability.local(instant, market.settings.zone)
