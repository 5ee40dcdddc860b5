"""MarketTable draws a cell again only when what it shows, or how, changed."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from p2pmarket.tui.widgets.table import MarketTable
from tests.tui.helpers import cells

ROWS = [(i, (Text(f"listing {i}"), f"¥{i}.00", f"@seller{i}")) for i in range(1, 9)]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MarketTable(id="t")

    def on_mount(self) -> None:
        self.query_one(MarketTable).add_columns("title", "price", "seller")


async def test_a_page_changed_in_one_cell_draws_that_cell_again(monkeypatch):
    drawn: list[tuple[int, int]] = []
    draw = DataTable._render_cell

    def counted(self, row_index, column_index, *args, **kwargs):
        if row_index >= 0:
            drawn.append((row_index, column_index))
        return draw(self, row_index, column_index, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_cell", counted)
    app = TableApp()
    async with app.run_test(size=(80, 14)) as pilot:
        table = app.query_one(MarketTable)
        table.refill(ROWS)
        await pilot.pause()
        assert len(drawn) == len(ROWS) * 3
        drawn.clear()

        # The same page with one price changed (as when its whys are priced), then a
        # page with other keys but the same cells at the same places (a new search).
        changed = [*ROWS[:3], (4, (Text("listing 4"), "¥5.00", "@seller4")), *ROWS[4:]]
        table.refill(changed)
        await pilot.pause()
        assert drawn == [(3, 1)]
        drawn.clear()
        table.refill([(key + 100, row) for key, row in changed])
        await pilot.pause()

        assert drawn == []
        assert cells(table)[3] == ["listing 4", "¥5.00", "@seller4"]
        assert table.selected_key() == 101
        # Another look (the light theme) draws every cell again.
        app.theme = "textual-light"
        await pilot.pause()
        assert len(drawn) == len(ROWS) * 3


async def test_a_words_cell_is_shown_as_written_never_as_markup():
    # A str cell (a seller's handle, a status) is words: a DataTable would read it as markup,
    # so "[red]" would vanish into a colour and "[@click=app.quit]" would become a link.
    app = TableApp()
    async with app.run_test(size=(80, 14)) as pilot:
        table = app.query_one(MarketTable)
        table.refill([(1, (Text("lamp"), "[b]¥1.00[/b]", "[@click=app.quit]x"))])
        await pilot.pause()
        assert cells(table) == [["lamp", "[b]¥1.00[/b]", "[@click=app.quit]x"]]
        table.refill([(1, (Text("lamp"), "[red]¥2.00[/]", "[@click=app.quit]x"))])
        await pilot.pause()
        assert cells(table) == [["lamp", "[red]¥2.00[/]", "[@click=app.quit]x"]]
        assert "[red]¥2.00[/]" in app.export_screenshot()
