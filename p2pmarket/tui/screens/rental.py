"""Four weeks of a rentable item's days: pick the first day and the return day, and rent
it (the CLI's `order create --from --to`). The booking screen's layout, by the day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Static

from p2pmarket import money
from p2pmarket.market import bookings
from p2pmarket.text import counted
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.booking import CalendarScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal

WEEKS = 4
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RentalScreen(CalendarScreen):
    NAME = "Rent by the day"
    BINDINGS: ClassVar = [
        Binding("enter", "pick", "Pick day"),
        Binding("n", "weeks(1)", "Later"),
        Binding("p", "weeks(-1)", "Earlier"),
    ]

    def __init__(self, listing_id: int, title: str) -> None:
        super().__init__()
        self.listing_id, self.title = listing_id, title
        self.monday: date | None = None
        self.calendar: bookings.Calendar | None = None
        self.first: date | None = None

    def reload(self) -> None:
        market = self.market.market
        today = bookings.today(market)
        if self.monday is None:
            self.monday = today - timedelta(days=today.weekday())
        cal = self.attempt(
            lambda: bookings.calendar(market, self.listing_id, self.monday, WEEKS * 7)
        )
        if cal is None:
            return
        self.calendar = cal
        head = Text()
        head.append(str(line(self.title, 200)), style="bold")
        head.append(f"\n{money.fmt(cal.price)} a day · deposit {money.fmt(cal.deposit)}")
        head.append(f"\nFrom {self.monday:%Y-%m-%d} · the return day is not rented", style="dim")
        self.query_one("#week-head", Static).update(head)
        taken = set(cal.taken)
        table = self.query_one("#week", DataTable)
        keep = table.cursor_coordinate
        table.clear(columns=True)
        for name in WEEKDAYS:
            table.add_column(name, key=name)
        days = cal.dates()
        for week in range(WEEKS):
            table.add_row(*(self._cell(d, today, taken) for d in days[week * 7 : week * 7 + 7]))
        table.move_cursor(row=keep.row, column=keep.column, animate=False)
        self._note()

    def _cell(self, day: date, today: date, taken: set[date]) -> Text:
        label = f"{day:%m-%d}"
        if day < today:
            return Text(label, style="dim")
        if day in taken:
            return Text(f"{label} rented", style="red")
        if day == self.first:
            return Text(f"{label} from", style="bold reverse")
        return Text(label, style="bold green")

    def _note(self) -> None:
        if self.first is None:
            note = "Enter picks the first day; n/p: later or earlier weeks."
        else:
            note = f"From {self.first:%Y-%m-%d}: Enter on the day it comes back."
        self.query_one("#week-note", Static).update(Text(note, style="dim"))

    def action_weeks(self, step: int) -> None:
        if self.monday is None:
            return
        today = bookings.today(self.market.market)
        earliest = today - timedelta(days=today.weekday())
        self.monday = max(earliest, self.monday + timedelta(days=7 * WEEKS * step))
        self.reload()

    def on_data_table_cell_selected(self, _event: DataTable.CellSelected) -> None:
        self.action_pick()

    def action_pick(self) -> None:
        if self.calendar is None or self.monday is None:
            return
        row, column = self.query_one("#week", DataTable).cursor_coordinate
        day = self.monday + timedelta(days=row * 7 + column)
        if self.first is None or day <= self.first:
            self.first = day
            self.reload()
            return
        first, cal = self.first, self.calendar
        question = (
            f"Rent {self.title} from {first:%Y-%m-%d}, back on {day:%Y-%m-%d}: "
            f"{counted((day - first).days, 'day')} × {money.fmt(cal.price)} + deposit "
            f"{money.fmt(cal.deposit)} = {money.fmt(cal.cost(first, day))}? The owner "
            "accepts, then you pay into escrow; the deposit comes back after the return."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._rent(first, day)

        self.app.push_screen(ConfirmModal(question, yes="Rent", no="Not now"), answered)

    def _rent(self, first: date, back: date) -> None:
        from p2pmarket.tui.screens.orders import OrdersScreen

        made = self.attempt(
            lambda: self.actor.rent(self.listing_id, first.isoformat(), back.isoformat())
        )
        self.first = None
        if made is None:
            self.reload()
            return
        self.market.tell(f"Order #{made.id} requested: waiting for @{made.seller} to accept.")
        self.market.open(OrdersScreen(focus_order=made.id))
