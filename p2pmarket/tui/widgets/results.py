"""Search's results: a table drawn a row at a time (Textual's Line API), for typing.

A DataTable draws each cell on its own (a console render per cell, ~140 for a page):
as one types, every keystroke that finds another page drew them all again, the most of
its time. Here a row is one Text rendered once into a Strip, cells padded to their
column's width; the header, zebra stripes and the cursor are styles laid over it when
painted. Rows are one line; cells are left-aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from p2pmarket.tui.widgets.table import content_key, fit_widths, follow_virtual_size

# The space either side of a cell, as a DataTable's.
PADDING = 1


def _text(cell: object) -> Text:
    # A string cell is shown as written (DataTable would read it as markup).
    return cell if isinstance(cell, Text) else Text(str(cell))


class ResultsTable(ScrollView, can_focus=True):
    """Rows of cells under a header, a row cursor; Enter (or a click on the cursor's row)
    selects a row: `RowSelected` with its key."""

    DEFAULT_CSS = """
    ResultsTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .results-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .results-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .results-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .results-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .results-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .results-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .results-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar = {
        "results-table--header",
        "results-table--even-row",
        "results-table--odd-row",
        "results-table--cursor",
    }
    BINDINGS: ClassVar = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
    ]

    class RowSelected(Message):
        """A row was chosen (Enter, or a click on the row under the cursor)."""

        def __init__(self, table: ResultsTable, key: int) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> ResultsTable:
            return self.table

    # A page of other rows changes the scrollable size: see follow_virtual_size.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        follow_virtual_size(self, size)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._labels: list[str] = []
        self._widths: list[int] = []
        self._keys: list[int] = []
        self._cells: list[tuple] = []
        # Each row drawn once, by what it shows at these widths (a keystroke that finds rows
        # drawn before draws none again), and the rows shown, drawn as they are painted. A
        # strip holds only the cells' own styles (bold marks): the colours of the theme,
        # the stripes and the cursor are laid over it when painted.
        self._drawn: dict[tuple, Strip] = {}
        self._strips: list[Strip | None] = []
        self._header = Strip([])
        self.cursor_row = 0

    # -- what the rest of the app uses ----------------------------------------------------

    def set_columns(self, columns: dict[str, int]) -> None:
        """The columns' labels, each at its least width."""
        self._labels = list(columns)
        self._show(self._keys, self._cells, fit_widths([], list(columns.values())))

    @property
    def widths(self) -> list[int]:
        """Each column's width (cells, without the padding)."""
        return list(self._widths)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def get_row_at(self, index: int) -> list:
        """The cells of the row at `index`, as given."""
        return list(self._cells[index])

    def selected_key(self) -> int | None:
        """The key of the row under the cursor (None when the table is empty)."""
        return self._keys[self.cursor_row] if self._keys else None

    def refill(self, rows: list[tuple[int, tuple]], *, widths: Sequence[int] | None = None) -> None:
        """Show these rows, keeping the cursor on the same key when it is still there.

        `widths`: each column's least width, widened only for a page with a wider cell.
        """
        keep, kept = self.selected_key(), self._keys
        keys = [key for key, _cells in rows]
        fitted = fit_widths(rows, widths if widths is not None else self._widths)
        self._show(keys, [cells for _key, cells in rows], fitted)
        if keys == kept:  # the same page (prices compared, a live reload): all stays
            return
        # Another page starts at the top left, as a DataTable's after `clear()`.
        self.cursor_row = 0
        self.scroll_to(0, 0, animate=False, force=True)
        if keep in keys:
            self.move_cursor(row=keys.index(keep))

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on row `row` (kept within the rows), and in view."""
        self.cursor_row = max(0, min(row, len(self._keys) - 1))
        self._scroll_to_cursor()
        self.refresh()

    # -- drawing ----------------------------------------------------------------------------

    def _show(self, keys: list[int], cells: list[tuple], widths: list[int]) -> None:
        if widths != self._widths:
            self._widths = widths
            self._header = self._draw(tuple(self._labels))
        self._keys, self._cells = keys, cells
        self._strips = [None] * len(cells)
        if len(self._drawn) > 4 * max(len(cells), 64):  # pages long gone
            self._drawn.clear()
        total = sum(width + 2 * PADDING for width in widths)
        self.virtual_size = Size(total, len(keys) + 1)  # + the header
        self.refresh()

    def _draw(self, cells: tuple) -> Strip:
        """One row as a strip, each cell padded (or cut) to its column's width."""
        row = Text(no_wrap=True, end="")
        pad = " " * PADDING
        for cell, width in zip(cells, self._widths, strict=True):
            text = _text(cell)
            if text.cell_len > width:
                text = text.copy()
                text.truncate(width, overflow="ellipsis")
            row.append(pad)
            row.append_text(text)
            row.append(" " * (width - text.cell_len) + pad)
        return Strip(row.render(self.app.console), row.cell_len)

    def _row(self, index: int) -> Strip:
        strip = self._strips[index]
        if strip is None:
            cells = self._cells[index]
            key = (tuple(self._widths), *(content_key(cell) or str(cell) for cell in cells))
            strip = self._drawn.get(key)
            if strip is None:
                strip = self._drawn[key] = self._draw(cells)
            self._strips[index] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self.get_component_rich_style
        if y == 0:  # the header stays on top
            look = style("results-table--header")
            strip = self._header.apply_style(look)
        else:
            index = y - 1 + scroll_y
            if index >= len(self._keys):
                return Strip.blank(width, self.rich_style)
            look = style(f"results-table--{'odd' if index % 2 else 'even'}-row")
            strip = self._row(index)
            if index == self.cursor_row:
                # The cursor's colours over the cells' own, as a DataTable's.
                cursor = style("results-table--cursor")
                look += cursor
                over = Style.from_color(cursor.color, cursor.bgcolor)
                strip = Strip(Segment.apply_style(strip, look, over), strip.cell_length)
            else:
                strip = strip.apply_style(look)
        return strip.crop_extend(scroll_x, scroll_x + width, look)

    # -- moving -----------------------------------------------------------------------------

    def _page(self) -> int:
        """Rows seen at once (the header stays)."""
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top, page = round(self.scroll_y), self._page()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page())

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._keys) - 1)

    def action_select_cursor(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def _on_click(self, event: events.Click) -> None:
        """A click moves the cursor to its row; a click on the cursor's row selects it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = offset.y - 1 + round(self.scroll_y)
        if index >= len(self._keys):
            return
        event.stop()
        if index == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)
