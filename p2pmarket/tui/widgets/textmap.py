"""A small text map: where results lie relative to me (@), by coarse steps, never spots."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ResultMap(Static):
    DEFAULT_CSS = """
    ResultMap { width: 100%; height: auto; padding: 0 1; border: round $primary-muted; }
    """

    COLS = 31
    ROWS = 13

    def __init__(self, content: str = "", *, id: str | None = None) -> None:
        super().__init__(content, id=id)
        self._plotted: tuple | None = None

    def clear(self) -> None:
        """No results: only me, on the scale last shown."""
        if self._plotted is not None:
            self.show([], *self._plotted[1:])

    def show(self, offsets: list[tuple[int, int]], radius_km: float, step_km: float) -> None:
        """Plot (east, north) step offsets; row 0 is north. Numbers are result ranks (1-9, +)."""
        shown = (tuple(offsets), radius_km, step_km)
        if shown == self._plotted:
            return  # typing on often finds the same places: no redraw
        # Only the legend under the fixed-size grid can change the widget's height.
        layout = self._plotted is None or self._plotted[1:] != shown[1:]
        self._plotted = shown
        cx, cy = self.COLS // 2, self.ROWS // 2
        grid = [
            ["·" if x % 4 == 0 and y % 2 == 0 else " " for x in range(self.COLS)]
            for y in range(self.ROWS)
        ]
        for rank, (east, north) in enumerate(offsets, start=1):
            # Terminal cells are about twice as tall as wide: two columns per step east.
            x, y = cx + east * 2, cy - north
            if 0 <= x < self.COLS and 0 <= y < self.ROWS:
                mark = str(rank) if rank < 10 else "+"
                grid[y][x] = mark if grid[y][x] in "· " else "+"
            else:
                edge_x, edge_y = min(max(x, 0), self.COLS - 1), min(max(y, 0), self.ROWS - 1)
                grid[edge_y][edge_x] = "›"
        grid[cy][cx] = "@"
        out = Text()
        out.append("N\n", style="bold")
        for row in grid:
            for ch in row:
                out.append(
                    ch, style="bold reverse" if ch == "@" else "dim" if ch in "· " else "bold"
                )
            out.append("\n")
        # The radius is in the status line above the results; the legend fits the pane.
        out.append(f"@ me · one step ≈ {step_km:g} km\n", style="dim")
        out.append("1–9 results by rank · + several\n› beyond the edge", style="dim")
        self.update(out, layout=layout)
