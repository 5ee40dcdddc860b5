"""`?`: the keys of the screen underneath and of the whole app."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from p2pmarket.tui.commands import _screen_bindings


class HelpModal(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpModal { align: center middle; }
    HelpModal > VerticalScroll {
        width: 76; height: auto; max-height: 90%;
        border: round $accent; background: $panel; padding: 0 1;
    }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self._under = under

    def compose(self) -> ComposeResult:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        name = getattr(self._under, "NAME", "") or "This screen"
        grid.add_row(Text("escape"), Text("Closes this help (so do ? and q)", style="dim"))
        grid.add_row(Text(""), Text(""))
        grid.add_row(Text(name, style="underline"), Text(""))
        everywhere = {b.action.removeprefix("app.") for b in self.app.BINDINGS}
        for binding in _screen_bindings(self._under):
            if binding.action.removeprefix("app.") not in everywhere | {"back"}:
                grid.add_row(self._key(binding), Text(binding.description))
        grid.add_row(Text(""), Text(""))
        grid.add_row(Text("Everywhere", style="underline"), Text(""))
        for binding in self.app.BINDINGS:
            if isinstance(binding, Binding):
                grid.add_row(self._key(binding), Text(binding.description))
        grid.add_row(Text("ctrl+p"), Text("Command palette: every screen and action"))
        grid.add_row(Text("escape"), Text("Back"))
        with VerticalScroll():
            yield Static(grid)

    def _key(self, binding: Binding) -> Text:
        """'?', '/', 'ctrl+s': the key as a person types it, never its name (the first of a
        binding's keys: 'ctrl+c', not 'ctrl+c,super+c')."""
        shown = binding.key_display or self.app.get_key_display(binding)
        return Text(shown if len(shown) == 1 else binding.key.split(",")[0])
