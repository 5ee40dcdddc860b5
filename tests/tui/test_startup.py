"""Startup: the home frame is drawn before the store (SQLAlchemy, SQLModel) is loaded."""

import subprocess
import sys

from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.home import HomeScreen
from tests.tui.helpers import SIZE, settle


def test_first_frame_imports_no_store():
    code = (
        "import sys\n"
        "import p2pmarket.tui.app, p2pmarket.tui.screens.home\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')"
        " or m in ('p2pmarket.db', 'p2pmarket.models')"
        " or m.startswith('p2pmarket.services')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_home_frame_then_data(store, config, clock):
    from p2pmarket.services import demo

    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock, user="demo", draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        frame = app.screen
        assert isinstance(frame, HomeScreen)
        await settle(pilot)
        assert app.screen is frame and app.user.handle == "demo"
        assert len(app.screen_stack) == 2
        assert frame.query_one("#shop-table").row_count > 0
