"""Startup: the home frame is drawn before the store (SQLAlchemy, SQLModel) is loaded."""

import asyncio
import subprocess
import sys

import pytest

from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.home import HomeScreen
from tests.tui.helpers import SIZE, settle


def test_first_frame_imports_no_store():
    code = (
        "import sys\n"
        "import p2pmarket.tui.app, p2pmarket.tui.screens.home\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')"
        " or m in ('p2pmarket.store.engine', 'p2pmarket.models')"
        " or m.startswith('p2pmarket.services')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_home_frame_then_data(store, config, clock):
    from p2pmarket.services.market import demo

    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock, user="demo", draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        frame = app.screen
        assert isinstance(frame, HomeScreen)
        await settle(pilot)
        assert app.screen is frame and app.user.handle == "demo"
        assert len(app.screen_stack) == 2
        assert frame.query_one("#shop-table").row_count > 0


def test_run_command_loads_no_store_before_the_app(tmp_path):
    # `p2pmarket run` builds only its own command: the store comes with the app's worker.
    code = (
        "import sys\n"
        "import p2pmarket.cli as cli\n"
        f"sys.argv = ['p2pmarket', '--home', {str(tmp_path)!r}, 'run', '--help']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')"
        " or m in ('p2pmarket.store.engine', 'p2pmarket.models')]\n"
        "print('BAD', ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--user" in out.stdout and out.stdout.strip().endswith("BAD")


async def test_given_passphrase_checked_after_the_frame(store, config, clock):
    from p2pmarket.services.market import demo
    from p2pmarket.services.records import backups
    from p2pmarket.tui.screens.login import LoginScreen

    demo.load_demo(store, clock)
    passphrase = demo.demo_data()["passphrase"]
    app = MarketApp(config=config, clock=clock, user="demo", passphrase=passphrase, draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and app.user.handle == "demo"
        assert app.market.checked and app.market.damage is None
    if store.config.is_sqlite:  # the day's backup, as any command's first use takes it
        with store.read() as session:
            assert [b.reason for b in backups.list_backups(session)] == ["daily"]

    app = MarketApp(config=config, clock=clock, user="demo", passphrase="not it", draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # A wrong passphrase shows no one's data: the login screen, with the refusal.
        assert isinstance(app.screen, LoginScreen) and app.user is None
        assert app.market.checked  # verified meanwhile: the next person's timers run
        app.screen.query_one("#handle").value = "demo"
        app.screen.query_one("#passphrase").value = passphrase
        await pilot.press("enter", "enter")  # handle, then passphrase
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and len(app.screen_stack) == 2
        assert app.screen.query_one("#shop-table").row_count > 0


@pytest.mark.sqlite_only  # PostgreSQL keeps no daily file copy (pg_dump is the operator's)
async def test_a_failing_daily_backup_is_a_notification_and_the_home_still_opens(
    store, config, clock, monkeypatch
):
    from p2pmarket.errors import StoreFailure
    from p2pmarket.services.market import demo
    from p2pmarket.services.records import backups

    demo.load_demo(store, clock)

    def full(*_args):
        raise StoreFailure("backup_disk_full", "The disk holding x is full: no backup was written.")

    monkeypatch.setattr(backups, "_write_verified", full)
    app = MarketApp(config=config, clock=clock, user="demo", draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.user.handle == "demo" and isinstance(app.screen, HomeScreen)
        notes = [n.message for n in app._notifications]
        assert notes == [
            "Today's automatic backup was not made: The disk holding x is full: "
            "no backup was written."
        ]


async def test_a_store_failing_verify_opens_with_one_notice_that_says_why_and_what_to_do(
    store, config, clock
):
    from sqlalchemy import text

    from p2pmarket.services.market import demo

    demo.load_demo(store, clock)
    with store.write() as session:  # an edit outside the market: no signature, no entry
        session.connection().execute(text("UPDATE account SET balance = balance + 7"))
    app = MarketApp(config=config, clock=clock, user="demo", draw_first=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        notes = [n.message for n in app._notifications]
        assert len(notes) == 1 and notes[0].startswith("This store fails verify")
        assert app.market.damage == notes[0]


async def test_quitting_as_the_home_shows_ends_the_startup_work(store, config, clock):
    # The person quits before the filled home is painted: what the startup worker had left
    # (waiting for that paint, the check, the day's backup, the sections' imports) is
    # dropped, not waited for before the process ends.
    from p2pmarket.services.market import demo

    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock, user="demo", draw_first=True)
    logged_in = app.log_in

    def log_in_then_quit_before_the_paint(*args):
        logged_in(*args)
        app.call_after_refresh = lambda *_args, **_kwargs: app.exit()

    app.log_in = log_in_then_quit_before_the_paint
    async with app.run_test(size=SIZE):
        startup = next(w for w in app.workers if w.group == "startup")
        while app.user is None:
            await asyncio.sleep(0.01)
    await asyncio.get_running_loop().shutdown_default_executor()  # its thread has ended
    assert startup.is_cancelled and app.user.handle == "demo"
    assert not app.market.checked
