"""A DataTable with vim-style movement (hidden from the footer) and row keys as ints."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.widgets import DataTable


class MarketTable(DataTable):
    BINDINGS: ClassVar = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def selected_key(self) -> int | None:
        """The integer key of the row under the cursor (None when the table is empty)."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def refill(self, rows: list[tuple[int, tuple]]) -> None:
        """Show these rows, keeping the cursor on the same key when it is still there.

        The same keys in the same order (a live reload, or another keystroke that finds the
        same page) update only the cells that changed: a table redraw costs more than that.
        """
        columns = [column.key for column in self.ordered_columns]
        if [(str(key), len(cells)) for key, cells in rows] == [
            (row.key.value, len(columns)) for row in self.ordered_rows
        ]:
            for key, cells in rows:
                for column, old, new in zip(columns, self.get_row(str(key)), cells, strict=True):
                    if old != new:
                        self.update_cell(str(key), column, new, update_width=True)
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
