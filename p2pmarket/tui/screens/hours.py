"""A listing's bookable week, edited as its seller types it (the CLI's `listing hours`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Label, Static

from p2pmarket.errors import Invalid
from p2pmarket.market import bookings
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.text_input import TextInput

# The numbers of the form: (input id, label, default).
NUMBERS = (
    ("buffer", "Buffer after each booking (minutes)", 0),
    ("notice", "Notice a booking needs (hours)", 0),
    ("window", "Bookable up to (days ahead)", 30),
    ("slot", "Session length (minutes; a listing by the hour has 60)", 60),
)


class HoursScreen(MarketScreen):
    NAME = "Bookable hours"
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "app.back", "Cancel"),
    ]

    def __init__(self, listing_id: int) -> None:
        super().__init__()
        self.listing_id = listing_id

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="hours-form"):
            yield Static("", id="hours-head")
            yield Label("Week (e.g. mon-fri 09:00-18:00, sat 10:00-14:00)")
            yield TextInput(id="week", placeholder="mon-fri 09:00-18:00")
            for key, label, _default in NUMBERS:
                yield Label(label)
                yield TextInput(id=key)
            yield Label("Days off (2026-12-25 2027-01-01)")
            yield TextInput(id="off", placeholder="none")
            yield Static("", id="hours-note")
        yield MarketFooter()

    def on_mount(self) -> None:
        super().on_mount()
        hours = self.attempt(lambda: bookings.hours(self.market.market, self.listing_id))
        values = {key: str(default) for key, _label, default in NUMBERS}
        if hours is not None:
            values.update(
                week=hours.week,
                buffer=str(hours.buffer_after),
                notice=str(hours.notice_hours),
                window=str(hours.window_days),
                slot=str(hours.slot_minutes),
                off=" ".join(hours.days_off),
            )
        for key, value in values.items():
            self.query_one(f"#{key}", TextInput).value = value
        head = Text(f"Listing #{self.listing_id}", style="bold")
        head.append(
            "\nWhen buyers can book it, in the market's time zone. Saving replaces the week.",
            style="dim",
        )
        self.query_one("#hours-head", Static).update(head)
        self.query_one("#week", TextInput).focus()

    def _number(self, key: str) -> int:
        text = self.query_one(f"#{key}", TextInput).value.strip() or "0"
        if not text.isdigit():
            label = next(label for k, label, _ in NUMBERS if k == key)
            raise Invalid("hours_number", f"{label}: a whole number, not {text!r}.")
        return int(text)

    def action_save(self) -> None:
        def save():
            return self.actor.set_hours(
                self.listing_id,
                self.query_one("#week", TextInput).value,
                slot_minutes=self._number("slot"),
                buffer_after=self._number("buffer"),
                notice_hours=self._number("notice"),
                window_days=self._number("window"),
                days_off=self.query_one("#off", TextInput).value.split(),
            )

        saved = self.attempt(save)
        if saved is not None:
            self.market.tell(f"Listing #{self.listing_id} takes bookings: {saved.week}.")
            self.app.action_back()
