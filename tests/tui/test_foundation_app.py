from textual.widgets import DataTable, Input, Static

from p2pmarket.services.market import demo
from p2pmarket.services.trust import accounts
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.home import HomeScreen
from tests.conftest import make_goods
from tests.tui.helpers import SIZE, demo_app, settle


async def test_login_then_home(store, config, clock):
    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#handle")
        await pilot.press(*"demo", "enter")
        assert app.focused.id == "passphrase"
        await pilot.press(*"wrong passphrase", "enter")
        assert "does not open" in str(app.screen.query_one("#login-error", Static).render())
        app.screen.query_one("#passphrase", Input).value = demo.demo_data()["passphrase"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        table = app.screen.query_one("#shop-table", DataTable)
        assert table.row_count >= 3
        assert app.user.handle == "demo"


async def _switch_user(pilot, handle: str) -> None:
    """u, then the login form filled in as `handle` with the demo passphrase."""
    await pilot.press("u")
    await pilot.pause()
    pilot.app.screen.query_one("#handle", Input).value = handle
    pilot.app.screen.query_one("#passphrase", Input).value = demo.demo_data()["passphrase"]
    await pilot.press("enter", "enter")
    await settle(pilot)


async def test_switch_user_returns_home_as_the_other_user(store, config, clock):
    async with demo_app(store, config, clock) as (app, pilot):
        await pilot.press("o")
        await _switch_user(pilot, "lin_piano")
        assert isinstance(app.screen, HomeScreen)
        assert app.user.handle == "lin_piano"
        assert len(app.screen_stack) == 2


async def test_a_section_is_kept_while_the_same_person_is_logged_in(store, config, clock):
    """A section key shows the same screen again, as it was left (the words typed in
    search), reading what changed meanwhile; another person logging in gets new screens."""
    async with demo_app(store, config, clock, "s") as (app, pilot):
        searching = app.screen
        await pilot.press(*"gramophone")
        await settle(pilot)
        status = searching.query_one("#search-status", Static)
        assert "Nothing found" in str(status.content) and "nearest" not in str(status.content)
        await pilot.press("escape", "o")  # leave the field, then Orders
        await settle(pilot)
        assert len(app.screen_stack) == 3  # home stays under the section shown
        # Meanwhile a neighbour lists one, a little farther than the radius.
        with store.read() as session:
            lin = accounts.user_row(session, "lin_piano")
        make_goods(store, clock, lin, "Gramophone, wind-up", 30000)
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is searching
        assert searching.query_one("#q", Input).value == "gramophone"
        assert "the nearest is ~4.2 km away" in str(status.content)  # lin's, read anew
        await pilot.press("escape")
        await _switch_user(pilot, "lin_piano")
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is not searching
        assert app.screen.query_one("#q", Input).value == ""


async def test_a_kept_screen_shown_after_a_theme_change_wears_the_new_theme(store, config, clock):
    """Shown again, a kept screen is not restyled, unless the theme changed meanwhile."""
    async with demo_app(store, config, clock, "o") as (app, pilot):
        orders = app.screen
        dark = orders.query_one("MarketFooter").styles.background
        await pilot.press("h", "ctrl+t")
        await settle(pilot)
        light = app.screen.query_one("MarketFooter").styles.background
        assert light != dark
        await pilot.press("o")
        await settle(pilot)
        assert app.screen is orders
        assert orders.query_one("MarketFooter").styles.background == light
