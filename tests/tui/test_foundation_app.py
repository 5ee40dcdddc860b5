from textual.widgets import DataTable, Input, Static

from p2pmarket.services.market import demo
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.home import HomeScreen
from tests.tui.helpers import SIZE, settle


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


async def test_switch_user_returns_home_as_the_other_user(store, config, clock):
    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await pilot.press("u")
        await pilot.pause()
        app.screen.query_one("#handle", Input).value = "lin_piano"
        app.screen.query_one("#passphrase", Input).value = demo.demo_data()["passphrase"]
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.user.handle == "lin_piano"
        assert len(app.screen_stack) == 2
