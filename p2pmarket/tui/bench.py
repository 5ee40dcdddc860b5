"""`p2pmarket bench tui`: time to the first screen, and search-as-you-type at a large market.

Lives in the TUI package because it drives the real app headless with Pilot.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from p2pmarket.services.bench import percentiles

FIRST_SCREEN_SCRIPT = """
import sys, time
from p2pmarket.tui.first_screen import main
main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
"""


def time_to_first_screen(repeat: int = 3) -> dict:
    """Fresh interpreter → home frame drawn (p50_ms), then filled from the store (ready)."""
    from p2pmarket import config as config_mod
    from p2pmarket.clock import SystemClock
    from p2pmarket.db import Store
    from p2pmarket.services import demo

    samples, ready = [], []
    with tempfile.TemporaryDirectory(prefix="p2pmarket-tui-bench-") as tmp:
        config = config_mod.resolve(home=Path(tmp))
        store = Store.open(config)
        demo.load_demo(store, SystemClock())
        store.close()
        for _ in range(repeat):
            started = time.time()
            out = subprocess.run(
                [sys.executable, "-c", FIRST_SCREEN_SCRIPT, tmp, repr(started), demo.DEMO_USER],
                capture_output=True,
                text=True,
                check=True,
            )
            frame, filled = out.stdout.strip().splitlines()[-1].split()
            samples.append(float(frame))
            ready.append(float(filled))
    return {
        "samples_ms": [round(s, 1) for s in samples],
        **percentiles(samples),
        "ready_samples_ms": [round(s, 1) for s in ready],
        "ready": percentiles(ready),
    }


async def _type_and_wait(app, keys: str, timeout: float = 10.0) -> tuple[list, list]:
    """Per key press: ms until its results are painted, and until their prices are compared.

    The clock starts before the key is sent and stops when the table's refresh after the
    update has run, so key handling, the worker, the table and the paint all count.
    """
    from p2pmarket.tui.screens.search import SearchScreen

    class TimedSearch(SearchScreen):
        def __init__(self) -> None:
            super().__init__()
            self.painted = asyncio.Event()
            self.painted_at: dict[tuple[int, bool], float] = {}

        def _painted(self, generation: int, priced: bool) -> None:
            super()._painted(generation, priced)
            self.painted_at.setdefault((generation, priced), time.perf_counter())
            self.painted.set()

    async with app.run_test(size=(120, 34)) as pilot:
        screen = TimedSearch()
        app.open(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown, priced = [], []
        for key in keys:
            # Every character typed into the box is one Input.Changed: one generation.
            wanted = screen._generation + 1
            started = time.perf_counter()
            await pilot.press("space" if key == " " else key)
            while screen.priced_generation < wanted:
                screen.painted.clear()
                await asyncio.wait_for(screen.painted.wait(), timeout)
            painted = [(t, p) for (g, p), t in screen.painted_at.items() if g >= wanted]
            # Rows with their prices compared are rows too: the first paint of either counts.
            shown.append((min(t for t, _p in painted) - started) * 1000)
            priced.append((min(t for t, p in painted if p) - started) * 1000)
        return shown, priced


def search_as_you_type(config, clock, *, listings: int, words: str, progress=None) -> dict:
    """Each keystroke of `words` in the search box: ms until its results are on screen."""
    from p2pmarket.services import accounts, search_bench
    from p2pmarket.tui.app import MarketApp

    store, seeded = search_bench.bench_market(config, clock, listings, progress=progress)
    home = store.config
    with store.read() as session:
        handle = accounts.list_users(session, limit=1)[0].handle
    store.close()
    app = MarketApp(config=home, clock=clock, user=handle)
    shown, priced = asyncio.run(_type_and_wait(app, words))
    return {
        "listings": listings,
        "seeded": seeded,
        "words": words,
        "per_key_ms": [round(s, 1) for s in shown],
        **percentiles(shown),
        # The why's "12% under the suggested price" follows in a second pass.
        "priced_per_key_ms": [round(s, 1) for s in priced],
        "priced": percentiles(priced),
    }


def bench_tui(config, clock, *, listings: int, words: str = "piano lessons", progress=None):
    return {
        "first_screen": time_to_first_screen(),
        "search_as_you_type": search_as_you_type(
            config, clock, listings=listings, words=words, progress=progress
        ),
    }
