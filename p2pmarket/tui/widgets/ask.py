"""A small self-contained question: one line of input, returned via dismiss (None = cancel)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from p2pmarket.tui.plain import plain
from p2pmarket.tui.widgets.text_input import TextInput


class AskModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    AskModal { align: center middle; }
    AskModal > Vertical {
        width: 64; height: auto; border: round $accent; background: $panel; padding: 1 2;
    }
    AskModal Input { margin: 1 0; }
    AskModal Horizontal { height: auto; align-horizontal: right; }
    AskModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self._question, self._placeholder, self._value = question, placeholder, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self._question), id="ask-question")
            yield TextInput(value=self._value, placeholder=self._placeholder, id="ask-input")
            with Horizontal():
                yield Button("Cancel", id="ask-cancel")
                yield Button("OK", variant="primary", id="ask-ok")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ask-ok")
    def _ok(self) -> None:
        self.dismiss(self.query_one(Input).value)

    @on(Button.Pressed, "#ask-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
