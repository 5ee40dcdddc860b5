"""What every market screen shares: who is logged in, transactions, refusals, live reloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from p2pmarket.errors import MarketError

if TYPE_CHECKING:
    from textual.screen import ActiveBinding

    from p2pmarket.market import Actor
    from p2pmarket.tui.app import MarketApp

T = TypeVar("T")

# Seconds a kept screen's data stays current while nobody commits: what it shows of time
# (countdowns, deadlines not yet settled) is then no later than the app's own tick (30 s).
FRESH_FOR = 30


class StoreChanged(Message):
    """Someone (another terminal, or this one) committed to the store."""


class MarketScreen(Screen[None]):
    """A screen over the services. Subclasses implement `reload()` to re-read their data."""

    # Re-read when the store changes under us (chat, home, orders); False for heavy screens.
    LIVE: ClassVar[bool] = False
    # Shown in the header and the command palette.
    NAME: ClassVar[str] = ""
    # The section this one was opened from by its key (app.action_goto): Escape goes there.
    came_from: str | None = None
    # The theme this screen's widgets were last styled in (None: not yet shown).
    _theme_styled: str | None = None
    _market: MarketApp | None = None
    # MarketApp.data_stamp when this screen last read its data on being shown (None: never).
    _read_at: tuple[int, int] | None = None
    # Help comes first in every screen's footer: at 80 columns the keys after the screen's
    # own are cut, and help lists them all. While a text field has focus ? is typed, and
    # the footer shows f1 instead.
    BINDINGS: ClassVar = [
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("f1", "app.help", "Help"),
        Binding("escape", "app.back", "Back", show=False),
    ]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys in force, help first: Textual lists a focused widget's own keys (the
        offers pane's, a saved search's) before the screen's."""
        found = super().active_bindings
        return {k: b for k, b in found.items() if b.binding.action == "app.help"} | found

    @property
    def market(self) -> MarketApp:
        """The app, also from a worker's thread once this screen is gone (a worker started by
        a kept screen may finish after another person logged in and the screen was
        removed: Textual finds the app through the screen's parent, then none)."""
        if self._market is None:
            self._market = self.app  # type: ignore[assignment]
        return self._market

    @property
    def actor(self) -> Actor:
        """The person logged in: every use case this screen runs is one call on it."""
        return self.market.actor

    def on_mount(self) -> None:
        self.sub_title = self.NAME

    def attempt(self, fn: Callable[[], T]) -> T | None:
        """Run a service call; a refusal becomes a notification (its sentence, as data)."""
        try:
            return fn()
        except MarketError as exc:
            self.market.refuse(exc)
            return None

    def reload(self) -> None:
        """Re-read this screen's data from the services."""

    def shown_again(self) -> None:
        """Shown again with the store changed (or the clock moved) since its last read."""
        self.reload()

    def _stale(self) -> bool:
        """True (and the read stamped now) if someone committed since this screen's last read
        or the clock moved FRESH_FOR or more; False: what it shows is still true."""
        (version, now), last = self.market.data_stamp(), self._read_at
        if last is not None and version == last[0] and abs(now - last[1]) < FRESH_FOR:
            return False
        self._read_at = (version, now)
        return True

    def leave(self, go: Callable[[], None]) -> None:
        """Leave this screen by `go()`; a screen holding unsaved work asks first."""
        go()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Shown again (the app keeps each section's screen): Textual would restyle every
        # widget in case the styles changed meanwhile, and here only a theme changes them.
        if self._theme_styled == self.app.theme:
            event.refresh_styles = False
        self._theme_styled = self.app.theme
        # Kept screens read again only when something changed since (bench tui: screen switch).
        if self.market.user is not None and self._stale():
            self.shown_again()

    def on_store_changed(self, _message: StoreChanged) -> None:
        if self.LIVE and self.market.user is not None and self._stale():
            self.reload()
