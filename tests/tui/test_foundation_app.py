from textual.widgets import DataTable, Input, Static

from p2pmarket.services import demo
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.shop import ShopScreen


async def test_login_then_my_shop(store, config, clock):
    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.click("#handle")
        await pilot.press(*"demo", "enter")
        assert app.focused.id == "passphrase"
        await pilot.press(*"wrong passphrase", "enter")
        assert "does not open" in str(app.screen.query_one("#login-error", Static).render())
        app.screen.query_one("#passphrase", Input).value = demo.demo_data()["passphrase"]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ShopScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count >= 3
        assert app.user.handle == "demo"


def test_shop_snapshot(snap_compare, store, config, clock):
    demo.load_demo(store, clock)
    assert snap_compare(MarketApp(config=config, clock=clock, user="demo"), terminal_size=(120, 34))
