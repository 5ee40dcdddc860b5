"""Propose a meet-up: a landmark of the area (a picker, never a typed address) and a time.
Self-contained; returns what was chosen via dismiss (None = cancel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from p2pmarket.tui.plain import line, plain
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.market.catalog import Area


@dataclass(frozen=True)
class MeetUp:
    place: str  # the landmark's key
    area: str
    at: str  # as typed: 2026-12-05T15:00 (the service parses and judges it)


class MeetUpForm(ModalScreen[MeetUp | None]):
    DEFAULT_CSS = """
    MeetUpForm { align: center middle; }
    MeetUpForm > Vertical {
        width: 64; height: auto; border: round $accent; background: $panel; padding: 0 2;
    }
    MeetUpForm Select, MeetUpForm Input { margin: 0 0 1 0; }
    MeetUpForm Horizontal { height: auto; align-horizontal: right; }
    MeetUpForm Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, order_id: int, area: Area, *, at: str = "") -> None:
        super().__init__()
        self._order_id, self._area, self._at = order_id, area, at

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                plain(
                    f"Meet to hand over order #{self._order_id}: a public place in "
                    f"{self._area.name}, and when (the market's clock)."
                ),
                id="meet-question",
            )
            yield Select(
                [(line(m.name), m.key) for m in self._area.landmarks],
                id="landmark",
                prompt="landmark",
            )
            yield Static("When (YYYY-MM-DDTHH:MM)")
            yield TextInput(value=self._at, placeholder="2026-12-05T15:00", id="meet-at")
            with Horizontal():
                yield Button("Cancel", id="meet-cancel")
                yield Button("Propose", variant="primary", id="meet-ok")

    def on_mount(self) -> None:
        self.query_one("#landmark", Select).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#meet-ok")
    def _ok(self) -> None:
        place = self.query_one("#landmark", Select).value
        if place is Select.NULL:
            self.query_one("#landmark", Select).focus()
            self.notify("Pick a landmark to meet at.", severity="warning")
            return
        at = self.query_one("#meet-at", Input).value
        self.dismiss(MeetUp(str(place), self._area.slug, at))

    @on(Button.Pressed, "#meet-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
