"""A week of a listing's free slots: pick one and book it (the CLI's `order create --at`).
`CalendarScreen` is its layout (a head, a grid of days, a note), shared with rentals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from p2pmarket import money
from p2pmarket.market import bookings
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal
from p2pmarket.tui.widgets.footer import MarketFooter

FREE = Text("free", style="bold green")
TAKEN = Text("·", style="dim")


class CalendarScreen(MarketScreen):
    """A head, a grid of days to move over, a note under it; the subclass fills them."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="week-head")
        yield DataTable(id="week", cursor_type="cell", zebra_stripes=True)
        yield Static("", id="week-note")
        yield MarketFooter()


class BookingScreen(CalendarScreen):
    NAME = "Book a slot"
    BINDINGS: ClassVar = [
        Binding("enter", "book", "Book this slot"),
        Binding("n", "week(7)", "Next week"),
        Binding("p", "week(-7)", "Previous week"),
    ]

    def __init__(self, listing_id: int, title: str, price: int) -> None:
        super().__init__()
        self.listing_id, self.title, self.price = listing_id, title, price
        self.first: date | None = None
        self.week: bookings.Week | None = None
        self.cells: dict = {}
        self.days: list[date] = []
        self.times: list[str] = []

    def reload(self) -> None:
        market = self.market.market
        if self.first is None:
            self.first = bookings.today(market)
        week = self.attempt(
            lambda: bookings.week(market, self.listing_id, days=7, since=self.first.isoformat())
        )
        if week is None:
            return
        self.week = week
        self.days, self.times, self.cells = week.grid(self.first)
        h = week.hours
        head = Text()
        head.append(str(line(self.title, 200)), style="bold")
        head.append(f"\n{money.fmt(self.price)} per slot of {h.slot_minutes} min · {h.week}")
        head.append(
            f"\nWeek of {self.first:%Y-%m-%d} · notice {h.notice_hours} h · up to "
            f"{h.window_days} days ahead · times in {h.zone}",
            style="dim",
        )
        self.query_one("#week-head", Static).update(head)
        table = self.query_one("#week", DataTable)
        keep = table.cursor_coordinate
        table.clear(columns=True)
        table.add_column("", key="time")
        for day in self.days:
            table.add_column(f"{day:%a} {day.day}", key=day.isoformat())
        for time in self.times:
            table.add_row(
                time, *(FREE if (day, time) in self.cells else TAKEN for day in self.days)
            )
        if self.times:
            table.move_cursor(row=keep.row, column=max(keep.column, 1), animate=False)
        note = (
            f"{len(week.slots)} free slot{'s' * (len(week.slots) != 1)} this week. "
            "Enter books the slot under the cursor; n/p: next or previous week."
            if week.slots
            else "No free slot this week: n shows the next one."
        )
        self.query_one("#week-note", Static).update(Text(note, style="dim"))

    def action_week(self, days: int) -> None:
        if self.first is None:
            return
        earliest = bookings.today(self.market.market)
        self.first = max(earliest, self.first + timedelta(days=days))
        self.reload()

    def _slot_under_cursor(self):
        table = self.query_one("#week", DataTable)
        row, column = table.cursor_coordinate
        if not self.times or column == 0:
            return None
        return self.cells.get((self.days[column - 1], self.times[row]))

    def on_data_table_cell_selected(self, _event: DataTable.CellSelected) -> None:
        self.action_book()

    def action_book(self) -> None:
        slot = self._slot_under_cursor()
        if slot is None or self.week is None:
            self.market.tell("Pick a free slot first.")
            return
        when = bookings.local(self.market.market, slot.start)
        question = (
            f"Book {self.title} on {when} for {money.fmt(self.price)}? The seller accepts, "
            "then you pay into escrow."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._book(self.week.at(slot))

        self.app.push_screen(ConfirmModal(question, yes="Book", no="Not now"), answered)

    def _book(self, at: str) -> None:
        from p2pmarket.tui.screens.orders import OrdersScreen

        made = self.attempt(lambda: self.actor.book(self.listing_id, at))
        if made is None:
            self.reload()
            return
        self.market.tell(f"Order #{made.id} requested: waiting for @{made.seller} to accept.")
        self.market.open(OrdersScreen(focus_order=made.id))
