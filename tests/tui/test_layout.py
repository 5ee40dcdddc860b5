"""The app at 80×24 (#13 items 3, 13, 15): the keys a person needs are on screen, search's
filters have labels, the map explains its marks, Escape goes back where one came from,
the editor offers the categories of the listing's kind, Contacts lists trading partners."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from textual.widgets import Button, Input, Select
from textual.widgets._footer import FooterKey

from p2pmarket.models import ListingStatus, OrderStatus
from p2pmarket.services.market import catalog, demo
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.home import HomeScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.help import HelpModal
from tests.conftest import PYTHON_VALUE
from tests.tui.helpers import cells, settle

NARROW = (80, 24)


@pytest.fixture
def market(store, clock):
    demo.load_demo(store, clock)
    return store


async def _pressed(pilot, *keys: str) -> None:
    """The app settled, then `keys` pressed and settled again."""
    await settle(pilot)
    await pilot.press(*keys)
    await settle(pilot)


def _footer_keys(app) -> list[FooterKey]:
    """The footer's keys a person can see: inside the screen's width."""
    width = app.screen.size.width
    return [k for k in app.screen.query(FooterKey) if k.region.right <= width and k.region.width]


@pytest.mark.parametrize("key", ["h", "s", "o", "c", "r", "l", "P", "p", "t"])
async def test_help_is_in_every_footer_at_80_columns(market, config, clock, key):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, key)
        shown = _footer_keys(app)
        assert shown and shown[0].description == "Help", [k.description for k in shown]
        # ? while no field has focus; f1 (never typed into a field) while one has.
        typing = isinstance(app.focused, Input)
        assert shown[0].key == ("f1" if typing else "question_mark")
        await _pressed(pilot, shown[0].key)
        assert isinstance(app.screen, HelpModal)


async def test_the_footer_follows_the_focus_into_a_field_and_out(market, config, clock):
    """A field taking focus hides ? and the letter keys (they type) and shows f1; leaving it
    shows them again. The footer builds its keys once, then hides, shows and re-keys them
    (a rebuild costs a screen switch 30 ms: bench tui)."""
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "s")  # its box takes the focus
        built = []
        moves = (("ctrl+l", "question_mark", "?", True), ("ctrl+f", "f1", "f1", False)) * 2
        for key, first, reads, letters in moves:
            await _pressed(pilot, key)
            shown = _footer_keys(app)
            assert (shown[0].key, shown[0].description) == (first, "Help")
            assert str(shown[0].render()).split() == [reads, "Help"]
            assert ("h" in {k.key for k in app.screen.query(FooterKey) if k.display}) is letters
            built.append(list(app.screen.query(FooterKey)))
        assert built[1] == built[2] == built[3]


async def test_help_names_keys_as_typed_and_escape_once(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "question_mark")
        console = Console(width=76, record=True, file=io.StringIO())
        console.print(app.screen.query_one("Static").content)
        text = " ".join(console.export_text().split())
    assert "slash" not in text and "question_mark" not in text
    assert "/ Search, typing in its box" in text and "? Help" in text and "u Switch user" in text
    assert text.startswith("escape Closes this help")
    assert text.count("escape Back") == 1


async def test_home_at_80x24_shows_six_shop_rows_and_the_orders(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        shop = app.screen.query_one("#shop-table")
        orders = app.screen.query_one("#home-orders")
        assert shop.row_count >= 6
        # The header row and six rows of the shop; the orders below with their next step.
        assert shop.region.height >= 7 and orders.region.height >= 5
        assert orders.ordered_columns[2].label.plain == "your move"
        assert orders.region.bottom <= 23


async def test_chat_shows_its_five_buttons_whole_at_80_columns(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "c")
        row = app.screen.query_one("#chat-buttons")
        buttons = list(row.query(Button))
        assert [str(b.label) for b in buttons] == [
            "Trade mode",
            "Request ¥",
            "Pay",
            "Report",
            "Block",
        ]
        for b in buttons:  # each whole inside the row, none cut or pushed off
            assert b.region.width > 0, str(b.label)
            assert b.region.intersection(row.content_region) == b.region, str(b.label)


async def test_chat_wraps_messages_at_80_columns_and_after_a_resize(market, config, clock):
    """A message is read whole: its lines wrap at the log's width (RichLog's default is to
    render 78 columns, cut in a 52-column pane), also after the terminal grows or shrinks."""
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "c")
        log = app.screen.query_one("#chat-log")
        for size in (NARROW, (120, 36), NARROW):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert log.lines and log.virtual_size.width <= log.scrollable_content_region.width
            widest = max(line.cell_length for line in log.lines)
            assert widest <= log.scrollable_content_region.width, size


async def test_chat_list_fits_its_pane_at_80_columns_and_shows_the_last_line_when_wide(
    market, config, clock
):
    """At 80 columns the list pane is 28 wide: its last-message column would get one
    character and a scroll bar; it goes, and comes back when the terminal grows."""
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "c")
        table = app.screen.query_one("#conversations")
        narrow, wide = ["with", "new", "mode"], ["with", "new", "mode", "last"]
        for size, labels in ((NARROW, narrow), ((120, 36), wide), (NARROW, narrow)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert [str(c.label) for c in table.ordered_columns] == labels, size
            assert table.row_count > 0
            assert table.virtual_size.width <= table.scrollable_content_region.width, size


STATE_NAME = re.compile(
    "|".join(
        rf"\b{state}\b" for kind in (OrderStatus, ListingStatus) for state in kind if "_" in state
    )
    + r"|\baccept-claim\b|\b[A-Z]+_[A-Z]+\b"
)


@pytest.mark.parametrize("keys", [["h"], ["s"], ["o"], ["c"], ["r"], ["l"], ["P"], ["p"], ["t"]])
async def test_no_screen_shows_a_python_value(market, config, clock, keys):
    """#13 item 8 on the screens as `test_readable` on the CLI: every section of the demo
    market (and its first listing, opened from Search) in words, dates and money."""
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=(120, 36)) as pilot:
        await _pressed(pilot, *keys)
        if keys == ["s"]:
            for keys_typed in (*"dog", "enter", "enter"):  # found, then opened
                await _pressed(pilot, keys_typed)
            assert isinstance(app.screen, ListingScreen)
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert not PYTHON_VALUE.search(shown), PYTHON_VALUE.search(shown).group(0)
        # Nor a state by its name for scripts: "handed over", "sold out", "accept claim".
        assert not STATE_NAME.search(shown), STATE_NAME.search(shown).group(0)


async def test_search_filters_have_labels_and_the_map_a_legend(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "s")
        screen = app.screen
        labels = {w.id: w.border_title for w in screen.query("#filters > Input")}
        assert labels == {
            "radius": "radius km",
            "min-price": "price ≥ ¥",
            "max-price": "price ≤ ¥",
            "min-credit": "credit ≥",
        }
        # Every filter inside the screen (two rows of four), none cut at the edge.
        assert all(w.region.right <= 80 for w in screen.query("#filters > *"))
        assert screen.query_one("#search-side").display is False  # the map folds away
        status = screen.query_one("#search-status")
        assert status.region.width >= 78  # a full-width line, not a narrow column
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=(120, 36)) as pilot:
        await _pressed(pilot, "s")
        legend = " ".join(str(app.screen.query_one("#map").render()).split())
        assert "@ me" in legend and "1–9 results by rank" in legend and "› beyond" in legend


async def test_escape_from_a_section_goes_back_where_one_came_from(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "o")
        await _pressed(pilot, "c")
        assert isinstance(app.screen, ChatScreen)
        await _pressed(pilot, "escape")
        assert isinstance(app.screen, OrdersScreen)
        await _pressed(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)
        # From home, a section goes back home.
        await _pressed(pilot, "c")
        await _pressed(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)


async def test_the_editor_offers_the_categories_of_the_listings_kind(market, config, clock):
    def offered(select: Select) -> list[str]:
        return [slug for _label, slug in select._options if slug is not Select.NULL]

    every = catalog.categories()
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "a")
        category = app.screen.query_one("#category", Select)
        goods = offered(category)
        assert "bicycles" in goods and all("goods" in every[s].kinds for s in goods)
        assert len(goods) < len(every)
        category.value = "bicycles"
        app.screen.query_one("#kind", Select).value = "time"
        await settle(pilot)
        time = offered(category)
        assert time and all("time" in every[s].kinds for s in time)
        assert "bicycles" not in time and category.value is Select.NULL  # no longer fits


async def test_contacts_list_trading_partners_as_strangers_with_the_last_trade(
    market, config, clock
):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=NARROW) as pilot:
        await _pressed(pilot, "t")
        table = app.screen.query_one("#contacts")
        rows = {r[1]: r for r in cells(table)}
        # The list has focus, so its keys are in the footer and act on the person chosen.
        assert app.focused is table
        assert "Acquaintance" in [k.description for k in _footer_keys(app)]
        first = cells(table)[0][1]
        await _pressed(pilot, "2")
        assert {r[1]: r[2] for r in cells(table)}[first] == "acquaintance", cells(table)
    # demo set no tier for anyone, yet every person they traded with is listed.
    assert rows["@wang_bikes"][2:4] == ["stranger", "—"]
    assert (
        rows["@wang_bikes"][4].startswith("claimed 2026-")
        and "#19 City bike" in rows["@wang_bikes"][4]
    )
    assert rows["@chen_tutor"][4].startswith("completed ")


async def test_every_section_key_leaves_every_section(market, config, clock):
    """Each section key, from each section, pressed as soon as the last one opened (as
    `bench tui` does): leaving never asks a closing screen for its keys (the Plan screen's
    keys read its table, gone by then: a crash)."""
    from p2pmarket.bench.tui import SECTIONS, switch_through

    app = MarketApp(config=config, clock=clock, user="demo")
    times = await switch_through(app, rounds=1)
    assert set(times) == set(SECTIONS) and all(len(t) == 1 for t in times.values())
