"""The whole hostile corpus rendered by every TUI screen, and what reaches the terminal.

One market, built once through the services, carries every corpus string as a listing title
and description, a real name and bio, a chat line, a report reason, an order title and (for a
sample) a review. Each screen is opened in one app run that loads many hostile rows at once:
no exception, no action fired (the app keeps running, no bell, no notification), the text is
shown literally (minus what the cleaning rule strips), and the bytes Textual would write to the
terminal carry no escape or control character of ours. The `raw` variant writes hostile text
straight into the file, past the cleaning rule (an older version, another tool), to prove the
rendering rule holds on its own: it fails if any screen renders a stored value raw.
"""

from __future__ import annotations

import re
import shutil
import sqlite3

import pytest
from sqlmodel import select
from textual.widgets import DataTable, Input, RichLog

from p2pmarket import config as config_mod
from p2pmarket import text
from p2pmarket.clock import FixedClock
from p2pmarket.models import Kind, Listing, Order, Role, Unit, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.trust import chat, contacts, feedback, privacy
from p2pmarket.store.engine import Store
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.editor import EditorScreen
from p2pmarket.tui.screens.listing import ListingScreen
from tests.conftest import DISPUTE, START, make_listing, make_user
from tests.hostile.corpus import HOSTILE, forbidden_in
from tests.tui.helpers import SIZE, cells, settle

N = len(HOSTILE)
MARKUP = "[@click=app.quit]Free bike[/]"
SAMPLES = [MARKUP, "[bold]bold[/bold]", "[link=https://evil.example]click me[/link]", "[/]"]
REVIEWED = 10  # the listing screen shows the ten newest reviews

# What Textual itself writes: SGR colours, cursor moves, private mode switches. Anything
# else with an ESC (an OSC title, a DCS, a clear-screen from a title) is ours and a failure.
TEXTUAL_SEQ = re.compile(r"\x1b\[(?:[0-9;:]*m|[0-9]*;?[0-9]*H|\?[0-9;]*[hl])")


def stored(raw: str, max_len: int, multiline: bool = False) -> str:
    return text.clean(raw, field="x", max_len=max_len, multiline=multiline)


def title(i: int) -> str:
    return f"t{i:02d} {HOSTILE[i]}"[:110]


def real_name(i: int) -> str:
    return f"n{i:02d} {HOSTILE[i]}"[:75]


def body(prefix: str, i: int, n: int) -> str:
    return f"{prefix}{i:02d} {HOSTILE[i]}"[:n]


@pytest.fixture(scope="module")
def market_home(tmp_path_factory):
    """Built once: the corpus in every text field the screens show."""
    home = tmp_path_factory.mktemp("tui-hostile") / "home"
    config = config_mod.resolve(home=home)
    store = Store.open(config)
    clock = FixedClock(START)
    settings = config.settings
    mallory = make_user(
        store,
        clock,
        "mallory",
        verified=True,
        name=MARKUP,
        bio=body("bio", 2, 500),
    )
    bob = make_user(store, clock, "bob", verified=True, name=real_name(3))
    make_user(store, clock, "mei", role=Role.mediator, verified=True)
    reporters = [
        make_user(store, clock, f"r{i:02d}", name=real_name(i), bio=body("b", i, 500))
        for i in range(N)
    ]
    listings = [
        make_listing(
            store,
            clock,
            mallory,
            kind=Kind.goods,
            title=title(i),
            description=body("d", i, 1900),
            category="bicycles",
            unit=Unit.item,
            price=100 + i,
            quantity=3,
        )
        for i in range(N)
    ]
    with store.write() as s:
        for fact in ("real_name", "credit", "trades"):
            privacy.set_fact(s, s.get(User, mallory.id), fact, True)
        ledger.topup(s, clock, bob.id, 100_000, "hostile-topup")
    with store.write() as s:
        me, her = s.get(User, bob.id), s.get(User, mallory.id)
        for i in range(N):
            chat.send(s, clock, me, her, body("m", i, 1900), settings=settings)
        for i, reporter in enumerate(reporters):
            feedback.report(s, clock, s.get(User, reporter.id), her, body("why", i, 480))
        for reporter in reporters[:20]:
            contacts.set_tier(
                s, clock, her, s.get(User, reporter.id), contacts.parse_tier("trusted")
            )
    steps = ("accept", "pay", "deliver", "confirm")
    for i, listing in enumerate(listings):
        with store.write() as s:
            me, her = s.get(User, bob.id), s.get(User, mallory.id)
            order = orders.create_order(s, clock, me, listing.id)
            if i < REVIEWED:
                for who, step in zip((her, me, her, me), steps, strict=True):
                    orders.act(s, clock, settings, who, order.id, step)
                feedback.review(s, clock, me, order.id, 4, body("rv", i, 900))
            elif i < REVIEWED + 8:
                orders.act(s, clock, settings, her, order.id, "accept")
                orders.act(s, clock, settings, me, order.id, "pay")
                orders.act(s, clock, settings, me, order.id, "dispute", opening=DISPUTE)
    store.close()
    return home


@pytest.fixture
def market(market_home, tmp_path) -> config_mod.Config:
    home = tmp_path / "market"
    shutil.copytree(market_home, home)
    return config_mod.resolve(home=home)


RAW = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e\x1bP+q\x1b\\"
RAW_COLUMNS = {
    User: ("real_name", "bio"),
    Listing: ("title", "description"),
    Order: ("title",),
}


def _poison(config: config_mod.Config) -> None:
    """Hostile text straight into the file, as an older version or another tool might."""
    from p2pmarket.models import CreditEvent, Message, OrderEvent, Report, Review

    columns = {
        **RAW_COLUMNS,
        Message: ("body",),
        Review: ("text",),
        Report: ("reason",),
        CreditEvent: ("reason",),
        OrderEvent: ("note",),
    }
    db = sqlite3.connect(config.sqlite_path)
    for model, names in columns.items():
        table = model.__table__.name
        for name in names:
            db.execute(f'UPDATE "{table}" SET "{name}" = ? || "{name}"', (RAW,))
    db.commit()
    db.close()


# -- what the terminal gets -------------------------------------------------------------------


def terminal_bytes(app) -> str:
    """What Textual would write to a real terminal for the whole current screen."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_safe_output(app) -> None:
    out = terminal_bytes(app)
    ours = TEXTUAL_SEQ.sub("", out)
    assert not forbidden_in(ours), sorted(forbidden_in(ours))
    assert "\x1b" not in ours and "\x9b" not in ours


def assert_nothing_fired(app, bells: list) -> None:
    assert app.is_running and app.return_code is None
    assert bells == []
    assert not app._notifications, [n.message for n in app._notifications]


async def _start(config, user: str, pilot_size=SIZE):
    app = MarketApp(config=config, clock=FixedClock(START), user=user)
    bells: list = []
    app.bell = lambda: bells.append(1)
    return app, bells


def table_cells(app, selector: str) -> list[list[str]]:
    """A table's cells as text: a DataTable's, or search's results."""
    return cells(app.screen.query_one(selector))


async def show_row(pilot, selector: str, needle: str) -> None:
    """Move the cursor to the row whose cells contain needle, so it is on screen."""
    table = pilot.app.screen.query_one(selector, DataTable)
    for i in range(table.row_count):
        if any(needle in str(c) for c in table.get_row_at(i)):
            table.move_cursor(row=i, animate=False)
            break
    await settle(pilot)


# -- one app run per screen --------------------------------------------------------------------


async def _home(pilot) -> None:
    app = pilot.app
    shop = {row[1] for row in table_cells(app, "#shop-table")}
    assert {str(line(stored(title(i), 120), 34)) for i in range(N)} <= shop
    opened = {row[1] for row in table_cells(app, "#home-orders")}
    assert str(line(stored(title(REVIEWED), 120), 30)) in opened
    await show_row(pilot, "#shop-table", MARKUP)
    assert f"t01 {MARKUP}" in screen_text(app)


async def _search(pilot) -> None:
    app = pilot.app
    await pilot.press("s")
    await settle(pilot)
    for query in ("t0", "bold", "free bike", "click"):
        app.screen.query_one("#q", Input).value = query
        await settle(pilot)
        assert_safe_output(app)
    app.screen.query_one("#q", Input).value = ""
    await settle(pilot)
    hits = app.screen.results.hits
    assert hits
    rows = table_cells(app, "#results")
    assert [r[0] for r in rows] == [str(line(h.title, 32)) for h in hits]
    assert all(h.title.startswith("t") and h.title == stored(h.title, 120) for h in hits)


async def _listing(pilot) -> None:
    app = pilot.app
    with app.market.store.read() as s:
        ids = [row.id for row in s.exec(select(Listing).order_by(Listing.id))]
    # A listing screen per kind of string (markup, escapes, C1, bidi, surrogates, RTL, huge).
    for i in (0, 1, 2, 17, 19, 23, 37, 45, 55, N - 1):
        app.open(ListingScreen(ids[i]))
        await settle(pilot, rounds=1)
        head = str(app.screen.query_one("#listing-head").render())
        assert stored(title(i), 120) in head
        assert_safe_output(app)
        if i in (1, 2, 17):
            shown = screen_text(app)
            assert stored(title(i), 120)[:28] in shown
            assert MARKUP in shown  # the seller's published real name
        app.action_back()
    app.open(ListingScreen(ids[1]))
    await settle(pilot)
    reviews = str(app.screen.query_one("#seller-reviews").render())
    for i in range(REVIEWED):
        assert stored(body("rv", i, 900), 1000, multiline=True) in reviews
    assert f"t01 {MARKUP}" in screen_text(app)


async def _editor(pilot) -> None:
    app = pilot.app
    with app.market.store.read() as s:
        ids = [row.id for row in s.exec(select(Listing).order_by(Listing.id))]
    for i in (0, 1, 17, 37, 55, N - 1):
        app.open(EditorScreen(ids[i]))
        await settle(pilot, rounds=1)
        assert app.screen.query_one("#title", Input).value == stored(title(i), 120)
        want = stored(body("d", i, 1900), 2000, multiline=True)
        assert app.screen.query_one("#description", Input).value == want
        assert_safe_output(app)
        if i == 1:
            assert f"t01 {MARKUP}" in screen_text(app)
        app.action_back()
        await settle(pilot, rounds=1)


async def _orders(pilot) -> None:
    app = pilot.app
    await pilot.press("o")
    await settle(pilot)
    buying = {row[1] for row in table_cells(app, "#buying")}
    assert {str(line(stored(title(i), 120), 24)) for i in range(N)} <= buying
    await show_row(pilot, "#buying", "t01 [@click=app.quit]")  # the title cut at 24
    assert f"t01 {MARKUP}" in str(app.screen.query_one("#order-head").render())
    assert f"t01 {MARKUP}" in screen_text(app)


async def _chat(pilot) -> None:
    app = pilot.app
    await pilot.press("c")
    await settle(pilot)
    log = app.screen.query_one("#chat-log", RichLog)
    shown = "\n".join(strip.text for strip in log.lines)
    flat = re.sub(r"\s", "", shown)
    for i in range(N):
        want = stored(body("m", i, 1900), 2000, multiline=True)
        assert re.sub(r"\s", "", want)[:200] in flat, i
    assert not forbidden_in(shown)
    assert MARKUP in shown


async def _credit(pilot) -> None:
    app = pilot.app
    await pilot.press("r")
    await settle(pilot)
    assert app.screen.query_one("#credit-records", DataTable).row_count > 0


async def _privacy(pilot) -> None:
    app = pilot.app
    await pilot.press("p")
    await settle(pilot)
    assert MARKUP in screen_text(app)


async def _contacts(pilot) -> None:
    app = pilot.app
    await pilot.press("t")
    await settle(pilot)
    handles = {row[1] for row in table_cells(app, "#contacts")}
    assert {f"@r{i:02d}" for i in range(20)} <= handles


async def _mediation(pilot) -> None:
    app = pilot.app
    await pilot.press("m")
    await settle(pilot)
    reasons = {row[3] for row in table_cells(app, "#reports")}
    assert {str(line(stored(body("why", i, 480), 500, multiline=True), 50)) for i in range(N)} <= (
        reasons
    )
    disputes = {row[1] for row in table_cells(app, "#disputes")}
    want = {str(line(stored(title(i), 120), 30)) for i in range(REVIEWED, REVIEWED + 8)}
    assert want <= disputes
    await show_row(pilot, "#reports", "why01")
    assert "why" in screen_text(app)  # the reasons are drawn (content checked above)


SCREENS = {
    "home": ("mallory", _home),
    "search": ("bob", _search),
    "listing": ("bob", _listing),
    "editor": ("mallory", _editor),
    "orders": ("bob", _orders),
    "chat": ("bob", _chat),
    "credit": ("mallory", _credit),
    "privacy": ("mallory", _privacy),
    "contacts": ("mallory", _contacts),
    "mediation": ("mei", _mediation),
}


@pytest.mark.slow
@pytest.mark.sqlite_only
@pytest.mark.parametrize("name", list(SCREENS))
async def test_every_screen_shows_the_corpus_literally_and_fires_nothing(market, name):
    user, visit = SCREENS[name]
    app, bells = await _start(market, user)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await visit(pilot)
        await settle(pilot)
        assert_safe_output(app)
        assert_nothing_fired(app, bells)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("name", list(SCREENS))
async def test_text_written_past_the_cleaning_rule_never_reaches_the_terminal(market, name):
    _poison(market)
    user, _visit = SCREENS[name]
    app, bells = await _start(market, user)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if name in ("listing", "editor"):
            with app.market.store.read() as s:
                first = s.exec(select(Listing).order_by(Listing.id)).first().id
            app.open((ListingScreen if name == "listing" else EditorScreen)(first))
        elif name != "home":
            await pilot.press(
                {
                    "search": "s",
                    "orders": "o",
                    "chat": "c",
                    "credit": "r",
                    "privacy": "p",
                    "contacts": "t",
                    "mediation": "m",
                }[name]
            )
        await settle(pilot)
        assert_safe_output(app)
        assert app.is_running and app.return_code is None and bells == []


async def test_the_output_check_catches_a_raw_title():
    """The checker itself: a Static given raw text (no stripping) is caught."""
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Static

    class Raw(App[None]):
        def compose(self):
            yield Static(Text(f"t00 {RAW}bike"))

    app = Raw()
    async with app.run_test(size=(60, 5)):
        with pytest.raises(AssertionError):
            assert_safe_output(app)


@pytest.mark.sqlite_only
async def test_unicode_digits_in_number_fields_are_refused_not_crashed(market):
    """'²'.isdigit() is True but int('²') raises: the editor and search used to crash."""
    app, bells = await _start(market, "mallory")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        for value in ("²", "٣", "１２", "1e400", "-5", "[@click=app.quit]"):
            app.screen.query_one("#min-credit", Input).value = value
            app.screen.query_one("#radius", Input).value = value
            await settle(pilot, rounds=1)
        app.action_back()
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        editor = app.screen
        editor.query_one("#title", Input).value = "Numbers"
        editor.query_one("#category").value = "bicycles"
        editor.query_one("#unit").value = "item"
        editor.query_one("#price", Input).value = "10"
        editor.query_one("#quantity", Input).value = "²"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is editor  # not saved
        assert [n.message for n in app._notifications] == [
            "Quantity must be a whole number, like 1 or 5."
        ]
        assert app.is_running and app.return_code is None and bells == []
