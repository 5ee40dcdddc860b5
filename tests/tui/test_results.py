"""Search's results (ResultsTable): a row cursor moved by keys and clicks, Enter opens the
listing under it, the cursor stays on its listing across pages, user text shown as written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Input

from p2pmarket import text
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.search import NARROW_TITLE, SearchScreen
from p2pmarket.tui.widgets.results import ResultsTable
from tests.tui.helpers import SIZE, Trade, cells, demo_app, settle


@asynccontextmanager
async def _bikes(store, config, clock, size=SIZE) -> AsyncIterator[tuple]:
    """The demo user's search, 10 km around, for "bike" (7 results), the results focused:
    (app, pilot, the results)."""
    async with demo_app(store, config, clock, "s", size=size) as (app, pilot):
        app.screen.query_one("#radius", Input).value = "10"
        await pilot.press(*"bike", "enter")  # Enter in the box focuses the results
        await settle(pilot)
        table = app.screen.query_one("#results", ResultsTable)
        assert app.focused is table and table.row_count == 7
        yield app, pilot, table


def _keys(table: ResultsTable) -> list[int]:
    """The rows' keys, top to bottom (the cursor left where it was)."""
    row, keys = table.cursor_row, []
    for index in range(table.row_count):
        table.cursor_row = index
        keys.append(table.selected_key())
    table.cursor_row = row
    return keys


def _cursor_painted(table: ResultsTable) -> int:
    """The row (counted from 0 under the header) painted in the cursor's colours."""
    cursor = table.get_component_rich_style("results-table--cursor").bgcolor
    painted = [
        y - 1
        for y in range(1, table.scrollable_content_region.height)
        if cursor in {segment.style.bgcolor for segment in table.render_line(y)}
    ]
    assert len(painted) == 1, painted
    return painted[0] + round(table.scroll_y)


async def _opened(pilot, key: int) -> None:
    """The listing `key` is open, and on screen."""
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ListingScreen) and screen.listing_id == key


async def test_keys_move_the_cursor_and_enter_opens_the_listing_under_it(store, config, clock):
    async with _bikes(store, config, clock) as (_app, pilot, table):
        keys = _keys(table)
        for key, row in [
            ("down", 1),
            ("j", 2),
            ("k", 1),
            ("G", 6),
            ("up", 5),
            ("g", 0),
            ("end", 6),
            ("home", 0),
            ("pagedown", 6),  # the page holds all 7 rows: to the last
            ("pageup", 0),
            ("up", 0),  # stays at the top
            ("down", 1),
        ]:
            await pilot.press(key)
            assert (table.cursor_row, _cursor_painted(table)) == (row, row), key
        await pilot.press("enter")
        await _opened(pilot, keys[1])


async def test_a_click_moves_the_cursor_and_a_second_click_opens_the_listing(store, config, clock):
    async with _bikes(store, config, clock) as (app, pilot, table):
        keys = _keys(table)
        await pilot.click("#results", offset=(5, 0))  # the header: nothing
        assert table.cursor_row == 0 and isinstance(app.screen, SearchScreen)
        await pilot.click("#results", offset=(5, 3))  # the third row
        await settle(pilot)
        assert table.cursor_row == _cursor_painted(table) == 2
        assert isinstance(app.screen, SearchScreen)
        await pilot.click("#results", offset=(40, 3))
        await _opened(pilot, keys[2])


async def test_the_cursor_stays_on_its_listing_when_the_page_changes(store, config, clock):
    async with _bikes(store, config, clock) as (app, pilot, table):
        best = _keys(table)
        await pilot.press("G")
        chosen = table.selected_key()
        title = cells(table)[6][0]
        await pilot.press("ctrl+o", "ctrl+o")  # best match → nearest → cheapest
        await settle(pilot)
        cheapest = _keys(table)
        assert sorted(cheapest) == sorted(best) and cheapest.index(chosen) != 6
        assert table.selected_key() == chosen
        assert table.cursor_row == _cursor_painted(table) == cheapest.index(chosen)
        assert cells(table)[table.cursor_row][0] == title
        # A page without it: the cursor goes to the top.
        app.screen.query_one("#q", Input).value = "tune"
        await settle(pilot)
        assert table.row_count >= 1 and chosen not in _keys(table)
        assert table.cursor_row == _cursor_painted(table) == 0


async def test_the_title_column_narrows_below_100_columns(store, config, clock):
    async with _bikes(store, config, clock, size=(80, 24)) as (app, pilot, table):
        assert table.widths[0] == NARROW_TITLE
        shown = [strip.text for strip in app.screen._compositor.render_strips()]
        header = next(line for line in shown if line.startswith(" title "))
        assert header.index("price") == 1 + NARROW_TITLE + 2
        await pilot.resize_terminal(120, 36)
        app.screen.query_one("#radius", Input).value = "11"  # the same page, searched again
        await settle(pilot)
        assert table.widths[0] == 32


MARKUP = "[red]Bike[/] [@click=app.quit]x"  # within the title column (32)


async def test_user_text_that_looks_like_markup_is_shown_as_written(store, config, clock):
    Trade(store, clock, title=MARKUP)
    literal = text.clean(MARKUP, field="title", max_len=500)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", *"bike")
        await settle(pilot)
        table = app.screen.query_one("#results", ResultsTable)
        assert [row[0] for row in cells(table)] == [literal]
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert literal in shown
        # Drawn in one colour, the table's: no red from the title.
        row = table.render_line(1)
        assert len({s.style.color for s in row if s.text.strip()}) == 1, list(row)
        await pilot.click("#results", offset=(5, 1))
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, ListingScreen)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ResultsTable(id="t")

    def on_mount(self) -> None:
        table = self.query_one(ResultsTable)
        table.set_columns({"title": 10, "price": 8})
        table.refill([(i, (Text(f"listing {i}"), f"¥{i}.00")) for i in range(1, 51)])
        table.focus()


async def test_the_cursor_scrolls_into_view_under_the_fixed_header():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(ResultsTable)
        seen = table.scrollable_content_region.height - 1  # rows under the header
        for key, row in [("pagedown", seen), ("G", 49), ("pageup", 49 - seen), ("g", 0)]:
            await pilot.press(key)
            await pilot.pause()
            assert table.cursor_row == _cursor_painted(table) == row, key
            assert table.render_line(0).text.startswith(" title ")
            top = round(table.scroll_y)
            assert top <= row < top + seen, key
        # Another page keeps the cursor's listing, scrolled into view.
        await pilot.press("G")
        table.refill([(i, (Text(f"listing {i}"), f"¥{i}.00")) for i in range(50, 0, -1)])
        await pilot.pause()
        assert (table.selected_key(), table.cursor_row, round(table.scroll_y)) == (50, 0, 0)
