"""The Textual app. A thin face over the market: screens call the logged-in Actor, never a session.

`MarketApp(home=..., user=..., clock=...)` is the factory tests build directly; a
`user` given alone is already authenticated (tests, `demo --open`); with a `passphrase`
(`p2pmarket run --user`) the startup worker checks it, and a refusal opens the login.
The app holds routing, bindings, login state and the timers every screen relies on:
order deadlines (`orders.tick`), the live-store poll, and the inbox check that raises a
notification when something new arrives for the person logged in.

With `draw_first` (`p2pmarket run`), startup draws the home frame first and opens the
store in a worker: the store brings SQLAlchemy, SQLModel and the tables (about as long
to import as Textual itself), and a person sees the screen while that loads. Tests
build the app without it and get a logged-in app at mount. Screens are imported when
first shown.
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Select
from textual.worker import get_current_worker

from p2pmarket import config as config_mod
from p2pmarket import loading
from p2pmarket.clock import Clock, SystemClock, wall
from p2pmarket.errors import MarketError
from p2pmarket.tui.commands import ScreenCommands
from p2pmarket.tui.remedies import for_app

if TYPE_CHECKING:
    from p2pmarket.market import Actor, Market
    from p2pmarket.services.trust import accounts

# Seconds between order-deadline runs and between cheap "did anyone commit?" probes.
TICK_EVERY = 30.0
POLL_EVERY = 0.3
# Seconds between looks at the inbox of the person logged in (a cheap read when nothing is new).
INBOX_EVERY = 5.0


# Section name -> (module under p2pmarket.tui.screens, class).
SCREENS: dict[str, tuple[str, str]] = {
    "home": ("home", "HomeScreen"),
    "inbox": ("inbox", "InboxScreen"),
    "search": ("search", "SearchScreen"),
    "orders": ("orders", "OrdersScreen"),
    "chat": ("chat", "ChatScreen"),
    "credit": ("credit", "CreditScreen"),
    "privacy": ("privacy", "PrivacyScreen"),
    "contacts": ("contacts", "ContactsScreen"),
    "mediation": ("mediation", "MediationScreen"),
    "plan": ("plan", "PlanScreen"),
}


def _keep_out_of_gc() -> None:
    """What lives now (the modules, Textual, the kept screens' widgets) moves out of the
    cycle collector's sight: its full pass walked all of it, 200–300 ms at a time in the
    middle of a screen switch or a keystroke (bench tui: screen switch). What dies from now
    on is collected as before; a young pass first, so little garbage is kept."""
    gc.collect(1)
    gc.freeze()


def _section_of(screen: Screen) -> str | None:
    """The section name of `screen` (None: a detail, a modal, the login)."""
    classes = {cls.__name__ for cls in type(screen).__mro__}
    return next((name for name, (_module, cls) in SCREENS.items() if cls in classes), None)


def _screen(name: str) -> type[Screen]:
    # Imported on first use: startup pays only for the screen it shows.
    module, cls = SCREENS[name]
    return getattr(importlib.import_module(f"p2pmarket.tui.screens.{module}"), cls)


class MarketApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "p2pmarket"
    COMMANDS: ClassVar = App.COMMANDS | {ScreenCommands}
    # A screen narrower than 100 columns has the class -narrow (side panes fold away).
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar = [
        Binding("h", "goto('home')", "Home"),
        Binding("s", "goto('search')", "Search"),
        Binding("o", "goto('orders')", "Orders"),
        Binding("c", "goto('chat')", "Chat"),
        Binding("r", "goto('credit')", "Credit"),
        Binding("l", "goto('inbox')", "Inbox"),
        Binding("P", "goto('plan')", "Plan"),
        Binding("p", "goto('privacy')", "Privacy", show=False),
        Binding("t", "goto('contacts')", "Contacts", show=False),
        Binding("m", "goto('mediation')", "Mediation", show=False),
        Binding("u", "switch_user", "Switch user", show=False),
        Binding("slash", "focus_search", "Search, typing in its box", show=False),
        # Shown first in each market screen's footer (screens/base.py); here for the login.
        Binding("question_mark", "help", "Help", show=False),
        Binding("f1", "help", "Help, also while typing in a field", show=False),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False),
    ]

    def __init__(
        self,
        *,
        home: str | Path | None = None,
        config: config_mod.Config | None = None,
        user: str | None = None,
        clock: Clock | None = None,
        passphrase: str | None = None,
        draw_first: bool = False,
        graphics: bool = False,
    ) -> None:
        """`draw_first`: show the home frame, then open the store in a worker (`run`).
        `graphics`: the terminal draws photos in pixels (tui/widgets/photo.py), else in
        half-cell blocks."""
        super().__init__()
        self.config = config or config_mod.resolve(home=home)
        self.clock = clock or SystemClock()
        self._market: Market | None = None
        self._market_lock = threading.Lock()
        self.user: accounts.UserView | None = None
        # The person logged in with their passphrase: their key signs what they do.
        self._signer: Actor | None = None
        self._initial_user = user
        self._passphrase = passphrase
        self._draw_first = draw_first
        self.graphics = graphics
        self._watcher = None
        # The newest inbox item this session has seen (None: not looked yet).
        self._inbox_seen: int | None = None
        # The home screen drawn before the store is open, filled in by log_in.
        self._frame: Screen | None = None
        # Each section's screen once built, kept for the person logged in (_section).
        self._sections: dict[str, Screen] = {}
        # How many times the watcher saw a commit (any connection's): what screens' reads are
        # stamped with (data_stamp), and what the live-store poll last told them.
        self._store_version = 0
        self._polled_version = 0

    @property
    def market(self) -> Market:
        """The market, opened on first use (by the startup worker, normally)."""
        return self._open_market()

    def _open_market(self, *, check: bool = True) -> Market:
        with self._market_lock:
            if self._market is None:
                from p2pmarket.market import Market

                self._market = Market.open(self.config, self.clock, check=check)
            return self._market

    @property
    def actor(self) -> Actor:
        """The person logged in, acting through the market: what screens call."""
        if self._signer is not None and self._signer.user.id == self.user.id:
            return self._signer
        from p2pmarket.market import Actor

        return Actor(self.market, self.user)

    # -- lifecycle -------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._initial_user and self._draw_first:
            self._frame = _screen("home")()
            self.push_screen(self._frame)
        elif self._initial_user:
            self._store_opened()
            try:
                self.log_in(*self._initial_login(self._initial_user))
            except MarketError as exc:
                self._start_at_login(exc)
        else:
            self._start_at_login()

    def on_ready(self) -> None:
        # After the first frame is on screen: the worker's imports hold the GIL a lot.
        if self._frame is not None:
            self._open_store(self._initial_user)

    @work(thread=True, exclusive=True, group="startup")
    def _open_store(self, handle: str) -> None:
        # Also imported here, off the event loop: what log_in and the home screen call.
        loading.load("p2pmarket.market")
        try:
            # Verified after the home is filled (below): at 1M listings its check is ~1 s CPU.
            self._open_market(check=False)
            user, signer = self._initial_login(handle)
        except MarketError as exc:
            self.call_from_thread(self._start_at_login, exc)
            if self._market is not None:  # opened, the person refused: checked for the next
                self._market.check_damage()
            return
        self.call_from_thread(self._store_opened)
        self.call_from_thread(self.log_in, user, signer)
        # Verified once the filled home is painted (the check would share the GIL with that
        # paint); until then its timers and the inbox's gathering waited (Market.checked).
        # Quitting cancels this worker: the process would otherwise wait for what is left
        # of it (the paint, the check, the backup, the sections' imports) before it ends.
        worker = get_current_worker()
        painted = threading.Event()
        self.call_from_thread(self.call_after_refresh, painted.set)
        for _ in range(40):  # at most 2 s
            if painted.wait(0.05) or worker.is_cancelled:
                break
        if worker.is_cancelled:
            return
        if self.market.check_damage() is None:
            self.call_from_thread(self._verified)
        else:  # read-only until restored or accepted
            self.call_from_thread(
                self.notify,
                self.market.damage,
                title="Store fails verify",
                severity="error",
                markup=False,
                timeout=60,
            )
        # As every CLI command's first use of the market does: after the home is filled.
        if worker.is_cancelled:
            return
        warning = self.market.daily_backup()
        if warning:
            self.call_from_thread(
                self.notify, warning, title="Backup", severity="warning", markup=False, timeout=10
            )
        # The sections' code, loaded while the person reads the home screen: a section's
        # first opening then only builds it.
        for name in SCREENS:
            if worker.is_cancelled:
                return
            _screen(name)

    def _verified(self) -> None:
        """The store passed its check after the home showed: the timers run, and the inbox
        gathers (what it gathers now is no more news than what login found)."""
        self.run_timers()
        self._inbox_seen = None
        self.check_inbox()

    def _initial_login(self, handle: str) -> tuple[accounts.UserView, Actor | None]:
        if self._passphrase is None:
            return self.market.trusted_actor(handle).user, None
        actor = self.market.actor(handle, self._passphrase)
        return actor.user, actor

    def _start_at_login(self, refusal: MarketError | None = None) -> None:
        """The login screen: nobody given, or the given user refused (its sentence shown)."""
        from p2pmarket.tui.screens.login import LoginScreen

        if refusal is not None:
            self.refuse(refusal)
        self._frame = None  # the login replaces the startup frame
        self.push_screen(LoginScreen())
        if self._watcher is None:
            self._store_opened()

    def _store_opened(self) -> None:
        self._watcher = self.market.watcher()
        self.set_interval(POLL_EVERY, self._poll_store)
        self.set_interval(TICK_EVERY, self.run_timers)
        self.set_interval(INBOX_EVERY, self.check_inbox)

    def on_unmount(self) -> None:
        gc.unfreeze()  # nothing of this app outlives it unseen (_keep_out_of_gc)
        if self._watcher is not None:
            self._watcher.close()
        if self._market is not None:
            self._market.close()

    def unlock(self, signer: Actor) -> None:
        """The person logged in confirmed with their passphrase (the payment modal): their
        key signs what they do from now on."""
        if self.user is not None and signer.user.id == self.user.id:
            self._signer = signer

    def log_in(self, user: accounts.UserView, signer: Actor | None = None) -> None:
        """Start (or restart, after switching user) at the home screen; `signer`: the
        person as they logged in with their passphrase (their key unlocked)."""
        self.user, self._signer = user, signer
        self.sub_title = f"@{user.handle}"
        self.run_timers()
        # What the inbox holds at login is not news: only what arrives from now on is.
        self._inbox_seen = None
        self.check_inbox()
        frame, self._frame = self._frame, None
        if frame is not None and frame in self.screen_stack:
            # The startup frame becomes the home screen; screens opened above it meanwhile
            # stay, and the one on top reads its data now (the others do when resumed).
            from p2pmarket.tui.screens.base import MarketScreen

            if isinstance(self.screen, MarketScreen):
                self.screen.reload()
            return
        home = _screen("home")()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        for name, screen in self._sections.items():  # the last person's, with their data
            self.uninstall_screen(f"section:{name}")
            screen.remove()
        self._sections.clear()
        gc.unfreeze()  # their widgets may be collected again (_keep_out_of_gc)
        self.push_screen(home)

    # -- the two timers --------------------------------------------------------------------

    def run_timers(self) -> int:
        """Settle order deadlines that have passed (refunds, auto-completions)."""
        try:
            return len(self.market.tick())
        except MarketError as exc:
            self.refuse(exc)
            return 0

    @work(thread=True, exclusive=True, group="inbox")
    def check_inbox(self) -> None:
        """Gather the inbox of the person logged in; notify of the items that arrived since
        the last look (wherever they were gathered: this screen, another terminal)."""
        user = self.user
        if user is None:
            return
        try:
            news = self.actor.inbox_news(self._inbox_seen)
        except MarketError:
            return  # a busy store: the next look tries again
        if self.user is not user:
            return  # switched user meanwhile
        self._inbox_seen = news.newest
        # Live screens re-read now if the gathering committed (home's "Inbox: 3 unread"),
        # not at the next poll.
        self.call_from_thread(self._poll_store)
        if not news.new:
            return
        more = f" (+{len(news.new) - 1} more)" if len(news.new) > 1 else ""
        self.call_from_thread(
            self.notify,
            for_app(news.new[0].text + more),
            title=f"Inbox · {news.unread} unread (l)",
            markup=False,
            timeout=8,
        )

    def data_stamp(self) -> tuple[int, int]:
        """(the store's version, the clock's time) now: a screen whose data was read at a
        stamp still current (MarketScreen.current) shows what is true without reading again.
        One cheap probe (PRAGMA data_version, or PostgreSQL's notifications), which also sees
        other processes' commits."""
        if self._watcher is None or self._watcher.changed():
            self._store_version += 1
        return self._store_version, self.clock.now()

    def _poll_store(self) -> None:
        """Live screens re-read when any connection committed since the last poll."""
        from p2pmarket.tui.screens.base import StoreChanged

        if self.user is None:
            return
        version, _now = self.data_stamp()
        if version != self._polled_version:
            self._polled_version = version
            self.screen.post_message(StoreChanged())

    # -- feedback --------------------------------------------------------------------------

    def _fatal_error(self) -> None:
        """A bug ends the app with its traceback, as Textual's does, but without the values
        of each frame's variables: those hold passphrases, people's places and messages, and
        a terminal keeps what it printed. (Textual's own method, overridden.)"""
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    def refuse(self, exc: MarketError) -> None:
        """A service said no: show its sentence (data, never markup)."""
        self.notify(
            for_app(exc.message), title="Refused", severity="error", markup=False, timeout=6
        )

    def wall(self, ts: int) -> str:
        """An instant on the market's wall clock, as every screen shows times."""
        return wall(ts, self.config.settings.zone)

    def tell(self, message: str) -> None:
        self.notify(for_app(message), markup=False)

    # -- routing ---------------------------------------------------------------------------

    def open(self, screen: Screen) -> None:
        """Show a screen on top of home: one level of sections, details stack above."""
        self.push_screen(screen)

    def action_goto(self, name: str) -> None:
        """Open a section; Escape there goes back to the section it was opened from."""
        if self.user is None:
            return
        left = _section_of(self.screen)
        self._leave(lambda: self._show_section(name, came_from=left))

    def _show_section(self, name: str, *, came_from: str | None = None) -> None:
        # The stack: the default screen, home, a section, the details opened from it.
        while len(self.screen_stack) > 3 or (name == "home" and len(self.screen_stack) > 2):
            self.pop_screen()
        if name == "home":
            return
        screen = self._section(name)
        screen.came_from = came_from if came_from not in ("home", name) else None
        if screen is self.screen:
            screen.reload()
        elif len(self.screen_stack) == 3:
            # One section for another: home stays under them, not shown, not re-read.
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _section(self, name: str) -> Screen:
        """The section's screen, built the first time it is opened and kept (installed) while
        the same person is logged in: opened again it re-reads its data (on resume) and
        keeps where the person was, instead of building and styling every widget anew
        (bench tui: screen switch)."""
        screen = self._sections.get(name)
        if screen is None:
            screen = self._sections[name] = _screen(name)()
            self.install_screen(screen, f"section:{name}")
            screen.call_after_refresh(_keep_out_of_gc)
        return screen

    def action_back(self) -> None:
        if len(self.screen_stack) <= 2:
            return
        came_from = getattr(self.screen, "came_from", None)
        if came_from is not None and len(self.screen_stack) == 3:
            # A section opened from another: back there (fresh), not home.
            self._leave(lambda: self._show_section(came_from))
        else:
            self._leave(self.pop_screen)

    def _leave(self, go: Callable[[], object]) -> None:
        """Leave the current screen, letting it ask first (an editor with a draft)."""
        from p2pmarket.tui.screens.base import MarketScreen

        screen = self.screen
        (screen.leave if isinstance(screen, MarketScreen) else lambda then: then())(go)

    # Keys that leave the screen, inert while a field or drop-down has focus: a letter meant
    # for the form never throws a draft away.
    _LEAVING = frozenset({"goto", "focus_search", "switch_user"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self._LEAVING and type(self.screen).__name__ == "LoginScreen":
            return False  # the login is a gate: Back (escape) or log in, no section behind it
        if action in self._LEAVING and isinstance(self.focused, (Input, Select)):
            return None
        return True

    def action_focus_search(self) -> None:
        if self.user is None:
            return
        if type(self.screen).__name__ != "SearchScreen":
            self.action_goto("search")
        self.call_after_refresh(lambda: self.screen.query_one("#q").focus())

    def action_switch_user(self) -> None:
        from p2pmarket.tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())

    def action_help(self) -> None:
        from p2pmarket.tui.widgets.help import HelpModal

        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal(self.screen))

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def screen_names(self) -> list[tuple[str, str]]:
        """(name, description) of every section, for the palette and help."""
        return [
            (b.action.split("'")[1], b.description)
            for b in self.BINDINGS
            if isinstance(b, Binding) and b.action.startswith("goto(")
        ]
