"""Opening a dispute: a one-line reason and a checklist of the chat's recent lines to attach;
returns the reason and the picked message ids via dismiss (None = cancel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static

from p2pmarket.services.money.orders.disputes import REASON_MAX, Opening
from p2pmarket.tui.plain import line, plain
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.money.orders.disputes import ChatLine


class DisputeModal(ModalScreen[Opening | None]):
    DEFAULT_CSS = """
    DisputeModal { align: center middle; }
    DisputeModal > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; background: $panel; padding: 0 1;
    }
    DisputeModal #dispute-lines { height: auto; max-height: 10; margin-bottom: 1; }
    DisputeModal Horizontal { height: auto; align-horizontal: right; }
    DisputeModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, order_id: int, other: str, lines: list[ChatLine]) -> None:
        super().__init__()
        self._order_id, self._other, self._lines = order_id, other, lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                plain(
                    f"Open a dispute on order #{self._order_id}: a mediator decides, every "
                    f"timer pauses, and both sides may add one statement within 48 h."
                ),
                id="dispute-intro",
            )
            yield TextInput(
                placeholder="What went wrong, in one line",
                max_length=REASON_MAX,
                id="dispute-reason",
            )
            if self._lines:
                yield Static(
                    plain(f"Attach lines of your chat with @{self._other} (space picks):"),
                    id="dispute-attach-title",
                )
                yield SelectionList[int](
                    *((_label(m, self.app.wall), m.id) for m in self._lines), id="dispute-lines"
                )
            else:
                yield Static(
                    plain(f"No chat with @{self._other} to attach."), id="dispute-attach-title"
                )
            with Horizontal():
                yield Button("Cancel", id="dispute-cancel")
                yield Button("Open dispute", variant="error", id="dispute-open")

    def on_mount(self) -> None:
        self.query_one("#dispute-reason", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#dispute-open")
    def _open(self) -> None:
        picked = self.query(SelectionList).first().selected if self._lines else []
        reason = self.query_one("#dispute-reason", Input).value
        self.dismiss(Opening(reason, tuple(sorted(picked))))

    @on(Button.Pressed, "#dispute-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _label(m: ChatLine, wall: Callable[[int], str]) -> Text:
    label = Text(f"{wall(m.at)[5:]} @{m.sender}: ", style="dim")
    label.append_text(line(m.body, 48))
    return label
