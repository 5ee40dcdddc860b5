"""Log in (or switch user) with a handle and passphrase."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Static

from p2pmarket.errors import MarketError
from p2pmarket.market import records
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.text_input import TextInput


class LoginScreen(Screen[None]):
    """Also the switch-user screen: Escape goes back when someone is logged in."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Back")]

    def action_cancel(self) -> None:
        if getattr(self.app, "user", None) is not None:
            self.app.pop_screen()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="login-box"):
            yield Static("Log in to the market", id="login-title")
            yield TextInput(placeholder="handle", id="handle")
            yield TextInput(placeholder="passphrase", password=True, id="passphrase")
            yield Button("Log in", variant="primary", id="login")
            yield Static("", id="login-error")
            yield Static("", id="demo-users")
        yield MarketFooter()

    def on_mount(self) -> None:
        demo = records.demo_login(self.app.market)
        if demo is not None:
            hint = f"Demo users: {', '.join(demo.handles)} — passphrase {demo.passphrase}"
            self.query_one("#demo-users", Static).update(Content(hint))
        self.query_one("#handle", Input).focus()

    @on(Input.Submitted, "#handle")
    def _next(self) -> None:
        if self._have_handle():
            self.query_one("#passphrase", Input).focus()

    def _have_handle(self) -> bool:
        """A handle typed; else the box says so and takes the focus (the passphrase box
        would take the handle typed next)."""
        if self.query_one("#handle", Input).value.strip():
            return True
        self.query_one("#login-error", Static).update(Content("Type your handle first."))
        self.query_one("#handle", Input).focus()
        return False

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#login")
    def _login(self) -> None:
        if not self._have_handle():
            return
        handle = self.query_one("#handle", Input).value
        passphrase = self.query_one("#passphrase", Input).value
        if not passphrase:
            self.query_one("#login-error", Static).update(Content("Type your passphrase."))
            self.query_one("#passphrase", Input).focus()
            return
        try:
            actor = self.app.market.actor(handle, passphrase)
        except MarketError as exc:
            self.query_one("#login-error", Static).update(Content(exc.message))
            return
        self.app.log_in(actor.user, actor)
