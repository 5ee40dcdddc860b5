"""The search screen timed: it notes when each keystroke's results are painted, and when
they are painted with their prices compared (`bench tui`; the TUI tests wait on it)."""

from __future__ import annotations

import asyncio
import time

from p2pmarket.tui.screens.search import SearchScreen


class TimedSearch(SearchScreen):
    def __init__(self) -> None:
        super().__init__()
        # The last keystroke (generation) whose results are painted on screen, and whose
        # results are painted with their prices compared.
        self.shown_generation = 0
        self.priced_generation = 0
        self.painted = asyncio.Event()
        self.painted_at: dict[tuple[int, bool], float] = {}

    def _painted(self, generation: int, priced: bool) -> None:
        self.shown_generation = max(self.shown_generation, generation)
        if priced:
            self.priced_generation = max(self.priced_generation, generation)
        self.painted_at.setdefault((generation, priced), time.perf_counter())
        self.painted.set()
