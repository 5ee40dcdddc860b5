"""A DataTable with vim-style movement (hidden from the footer), row keys as ints, and
cells drawn again only when what they show changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

if TYPE_CHECKING:
    from textual.scroll_view import ScrollView

# Drawn cells kept (by place, content and style) before the memo starts over.
CELLS_KEPT = 4096


def content_key(value: object) -> tuple | None:
    """What a cell shows, hashable: equal keys draw equal cells (None: a renderable that
    may change in place, drawn every time)."""
    if isinstance(value, Text):
        return (
            value.plain,
            value.style,
            tuple(value.spans),
            value.justify,
            value.overflow,
            value.no_wrap,
        )
    if isinstance(value, (str, int, float)):
        return (type(value), value)
    return None


def words(cell: object) -> object:
    """A `str` cell as a Text: shown as written (a DataTable reads a str as markup, so a
    cell with someone's words in it could style, hide or link). Other cells as they are."""
    return Text(cell) if isinstance(cell, str) else cell


def _cell_width(value: object) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


def fit_widths(rows: list[tuple[int, tuple]], least: Sequence[int]) -> list[int]:
    """Each column as wide as its least width or its widest cell in `rows`."""
    return [
        max([width, *(_cell_width(cells[index]) for _key, cells in rows)])
        for index, width in enumerate(least)
    ]


def follow_virtual_size(widget: ScrollView, size: Size) -> None:
    """Its rows changed `widget`'s scrollable size (a `virtual_size` watcher).

    A widget whose size is set by CSS (search's results) keeps its place on screen: the
    scrollbars follow (they lay out the screen when one comes or goes) and it repaints; a
    layout of the whole screen at each keystroke was most of its cost. A widget as tall or
    wide as its rows is laid out. Its `virtual_size` is a Reactive with layout=False.
    """
    if any(
        scalar is None or scalar.is_auto for scalar in (widget.styles.width, widget.styles.height)
    ):
        widget.refresh(layout=True)
        return
    widget._scroll_update(size)
    widget.refresh()


class MarketTable(DataTable):
    BINDINGS: ClassVar = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    # Other rows change the scrollable size: see follow_virtual_size.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        follow_virtual_size(self, size)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._drawn: dict[tuple, list] = {}

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list:
        """A body cell as drawn before when its place, content and style are the same.

        DataTable's own cache starts over at every change to any cell: a search page
        replaced as one types, or its whys priced, drew every cell again (the most of
        each keystroke's paint at 120 columns). The key holds all a cell's look depends
        on; a theme or CSS change (notify_style_update) starts over. Header cells stay
        DataTable's.
        """
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        content = (
            content_key(self._data[row_key][column_key])
            if row_index >= 0 and column_index >= 0
            else None
        )
        if content is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_index,
            column_index,
            content,
            self.rows[row_key].height,
            base_style,
            width,
            cursor,
            hover,
            # What DataTable's watchers start its own cache over for.
            self.show_cursor,
            self._show_hover_cursor,
            self.fixed_rows,
            self.fixed_columns,
            self.cell_padding,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
            self._pseudo_class_state,
        )
        drawn = self._drawn.get(key)
        if drawn is None:
            if len(self._drawn) >= CELLS_KEPT:
                self._drawn.clear()
            drawn = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._drawn[key] = drawn
        return drawn

    def _fit(self, rows: list[tuple[int, tuple]], widths: Sequence[int]) -> None:
        """Each column as wide as its least width or its widest cell in `rows`."""
        changed = False
        for column, width in zip(self.ordered_columns, fit_widths(rows, widths), strict=True):
            if width != column.width:
                column.width, changed = width, True
        if changed:  # drawn rows and the scrollable size follow the widths
            self._clear_caches()
            self._require_update_dimensions = True
            self.check_idle()

    def notify_style_update(self) -> None:
        # A theme or CSS change redraws every cell.
        super().notify_style_update()
        self._drawn.clear()

    def add_row(self, *cells: object, **options) -> RowKey:
        return super().add_row(*map(words, cells), **options)

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: object, **options
    ) -> None:
        super().update_cell(row_key, column_key, words(value), **options)

    def selected_key(self) -> int | None:
        """The integer key of the row under the cursor (None when the table is empty)."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def refill(self, rows: list[tuple[int, tuple]], *, widths: Sequence[int] | None = None) -> None:
        """Show these rows, keeping the cursor on the same key when it is still there.

        The same keys in the same order (a live reload, or another keystroke that finds the
        same page) update only the cells that changed: a table redraw costs more than that.
        `widths`: each column's least width (the columns were added with a width), widened
        only for a page with a wider cell; pages of the same widths (typing on) repaint the
        table without laying out the screen, where widths that follow each page's content
        laid out the whole screen at every key.
        """
        if widths is not None:
            self._fit(rows, widths)
        columns = [column.key for column in self.ordered_columns]
        if [(str(key), len(cells)) for key, cells in rows] == [
            (row.key.value, len(columns)) for row in self.ordered_rows
        ]:
            for key, cells in rows:
                for column, old, new in zip(columns, self.get_row(str(key)), cells, strict=True):
                    if content_key(old) != content_key(words(new)):
                        width = self.columns[column].auto_width
                        self.update_cell(str(key), column, new, update_width=width)
            return
        keep = self.selected_key()
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=str(key))
        if keep is not None:
            for index, (key, _cells) in enumerate(rows):
                if key == keep:
                    self.move_cursor(row=index, animate=False)
                    break
