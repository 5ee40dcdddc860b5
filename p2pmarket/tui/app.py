"""The Textual app. A thin face over the services: screens call services, never the session.

`MarketApp(home=..., user=..., clock=...)` is the factory tests build directly; a
`user` given here is already authenticated (the CLI checked the passphrase).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding

from p2pmarket import config as config_mod
from p2pmarket.clock import Clock, SystemClock
from p2pmarket.db import Store
from p2pmarket.services import accounts


class MarketApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "p2pmarket"
    BINDINGS: ClassVar = [
        Binding("ctrl+q", "quit", "Quit"),
        Binding("ctrl+t", "toggle_dark", "Light/dark"),
    ]

    def __init__(
        self,
        *,
        home: str | Path | None = None,
        config: config_mod.Config | None = None,
        user: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.config = config or config_mod.resolve(home=home)
        self.clock = clock or SystemClock()
        self.store = Store.open(self.config)
        self.user: accounts.UserView | None = None
        self._initial_user = user

    def on_mount(self) -> None:
        from p2pmarket.tui.screens.login import LoginScreen

        if self._initial_user:
            with self.store.read() as session:
                self.log_in(accounts.get_user(session, self._initial_user))
        else:
            self.push_screen(LoginScreen())

    def log_in(self, user: accounts.UserView) -> None:
        from p2pmarket.tui.screens.shop import ShopScreen

        self.user = user
        self.sub_title = f"@{user.handle}"
        self.switch_screen(ShopScreen()) if self.screen_stack[1:] else self.push_screen(
            ShopScreen()
        )

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def on_unmount(self) -> None:
        self.store.close()
