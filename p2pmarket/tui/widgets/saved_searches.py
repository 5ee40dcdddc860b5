"""My saved searches in a modal: each one's name, what it looks for and its hits I have not
seen. Enter runs one (on the Search screen), d deletes one (asked once); the modal returns
what was chosen via dismiss, and `choose_saved` turns that into Actor calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from p2pmarket import money
from p2pmarket.tui.plain import line
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.trust.inbox import SavedView
    from p2pmarket.tui.screens.base import MarketScreen


@dataclass(frozen=True)
class SavedChoice:
    """run or delete the saved search `name`."""

    step: str
    name: str


def looks_for(saved: SavedView) -> str:
    """What a saved search asks, in a few words: its text, radius and filters."""
    what = f"'{saved.text}'" if saved.text else "anything"
    words = [f"{what} within {saved.radius_km:g} km"]
    f = saved.filters
    for key in ("kind", "category", "condition"):
        if f.get(key):
            words.append(str(f[key]).replace("_", " "))
    if f.get("min_price") is not None:
        words.append(f"from {money.fmt(f['min_price'])}")
    if f.get("max_price") is not None:
        words.append(f"up to {money.fmt(f['max_price'])}")
    if f.get("min_credit") is not None:
        words.append(f"credit {f['min_credit']}+")
    return " · ".join(words)


class SavedSearches(ModalScreen[SavedChoice | None]):
    DEFAULT_CSS = """
    SavedSearches { align: center middle; }
    SavedSearches > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 80%; border: round $accent;
        background: $panel; padding: 0 1;
    }
    SavedSearches #saved-title { height: auto; text-style: bold; }
    SavedSearches #saved { height: auto; max-height: 16; margin-bottom: 1; }
    SavedSearches #saved-hint { height: auto; color: $text-muted; }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close"),
        Binding("d", "delete", "Delete search"),
    ]

    def __init__(self, saved: list[SavedView]) -> None:
        super().__init__()
        self._saved = saved

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Saved searches ({len(self._saved)})", id="saved-title")
            yield MarketTable(id="saved")
            yield Static(
                "enter: run it on Search (its new hits marked) · d: delete · escape: close"
                if self._saved
                else "None yet: on Search, ctrl+s saves what you look for; listings added "
                "later that it finds come to your inbox.",
                id="saved-hint",
            )

    def on_mount(self) -> None:
        table = self.query_one("#saved", MarketTable)
        table.add_columns("name", "looks for", "new")
        for index, s in enumerate(self._saved):
            new = Text(str(s.new_hits), style="bold") if s.new_hits else Text("—", style="dim")
            table.add_row(line(s.name, 24), line(looks_for(s), 60), new, key=str(index))
        table.focus()

    def _current(self) -> SavedView | None:
        index = self.query_one("#saved", MarketTable).selected_key()
        return None if index is None else self._saved[index]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "delete" or bool(self._saved)

    @on(DataTable.RowSelected, "#saved")
    def _run(self) -> None:
        if (s := self._current()) is not None:
            self.dismiss(SavedChoice("run", s.name))

    def action_delete(self) -> None:
        if (s := self._current()) is not None:
            self.dismiss(SavedChoice("delete", s.name))

    def action_close(self) -> None:
        self.dismiss(None)


def choose_saved(screen: MarketScreen, run: Callable[[str], None]) -> None:
    """Show my saved searches on `screen`; `run(name)` the one chosen, or delete one (asked
    once) and show the list again."""
    from p2pmarket.tui.widgets.confirm import ConfirmModal

    saved = screen.attempt(screen.actor.saved_searches)
    if saved is None:
        return

    def deleted(name: str, yes: bool | None) -> None:
        if yes and screen.attempt(lambda: screen.actor.unsave_search(name)) is not None:
            screen.market.tell(f"Deleted the saved search '{name}'.")
        choose_saved(screen, run)

    def chosen(choice: SavedChoice | None) -> None:
        if choice is None:
            return
        if choice.step == "run":
            run(choice.name)
            return
        question = f"Delete the saved search '{choice.name}'? Its hits stay in your inbox."
        screen.app.push_screen(
            ConfirmModal(question, yes="Delete", no="Keep it"),
            lambda yes: deleted(choice.name, yes),
        )

    screen.app.push_screen(SavedSearches(saved), chosen)
