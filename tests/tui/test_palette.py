"""The command palette offers every section and the actions of the current screen."""

from __future__ import annotations

from p2pmarket.tui.commands import ScreenCommands
from tests.tui.helpers import demo_app, settle


async def test_palette_lists_sections_and_screen_actions(store, config, clock):
    async with demo_app(store, config, clock, "o") as (app, pilot):
        provider = ScreenCommands(app.screen)
        names = [name for name, _help, _cb in provider._commands()]
        for section in ("Home", "Search", "Orders", "Chat", "Credit", "Privacy", "Contacts"):
            assert f"Go to {section}" in names
        assert "Orders: Pay" in names and "Orders: Deliver" in names
        # Running a palette entry navigates.
        callback = dict((n, cb) for n, _h, cb in provider._commands())["Go to Chat"]
        callback()
        await settle(pilot)
        assert type(app.screen).__name__ == "ChatScreen"
        # And the palette itself opens over any screen.
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert type(app.screen).__name__ == "CommandPalette"
        await pilot.press("escape")


async def test_light_dark_and_help(store, config, clock):
    async with demo_app(store, config, clock) as (app, pilot):
        before = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != before
        await pilot.press("question_mark")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpModal"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"
