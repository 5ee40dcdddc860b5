"""The login (and switch-user) screen is a gate: log in, or go back; nothing behind it."""

from __future__ import annotations

from textual.widgets import Input, Static

from p2pmarket.tui.screens.login import LoginScreen
from tests.tui.helpers import demo_app, settle


async def test_switch_user_offers_no_section_and_asks_for_a_handle_first(store, config, clock):
    async with demo_app(store, config, clock, "u") as (app, pilot):
        assert isinstance(app.screen, LoginScreen)
        # Enter on an empty handle: it says so and keeps the focus for the handle.
        await pilot.press("enter")
        await settle(pilot)
        assert str(app.screen.query_one("#login-error", Static).render()) == (
            "Type your handle first."
        )
        assert app.focused is app.screen.query_one("#handle", Input)
        # A handle and no passphrase: it asks for one (not "does not open").
        app.screen.query_one("#handle", Input).value = "demo"
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert str(app.screen.query_one("#login-error", Static).render()) == (
            "Type your passphrase."
        )
        assert app.focused is app.screen.query_one("#passphrase", Input)
        # Away from the boxes, a section key opens nothing behind the login, nor shows.
        app.screen.query_one("#login").focus()
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        shown = {
            binding.key for _n, binding, enabled, _t in app.active_bindings.values() if enabled
        }
        assert not {"h", "s", "o", "c", "r", "l"} & shown
        # Back: the person logged in before, as they were.
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, LoginScreen) and app.user.handle == "demo"
