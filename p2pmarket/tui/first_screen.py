"""Run in a fresh interpreter by `bench tui`: ms from `started` to the home screen.

Prints two numbers: the home frame on screen (header, cards, tables, footer: what a
person sees first; Textual's Ready event), then the same screen filled with the
user's data (the store opened in the startup worker, see tui/app.py) and painted.
"""

from __future__ import annotations

import asyncio
import time


def main(home: str, started: float, user: str) -> None:
    from p2pmarket.tui.app import MarketApp
    from p2pmarket.tui.screens.home import HomeScreen

    painted: list[tuple[float, type]] = []
    filled: list[float] = []

    class TimedApp(MarketApp):
        def on_ready(self) -> None:
            # Textual also calls MarketApp.on_ready (handlers run down the MRO).
            painted.append((time.time(), type(self.screen)))

        def log_in(self, user) -> None:
            super().log_in(user)
            self.call_after_refresh(lambda: filled.append(time.time()))

    async def run() -> tuple[float, float]:
        app = TimedApp(home=home, user=user, draw_first=True)
        async with app.run_test(size=(120, 34)) as pilot:
            # Coarse polling: a busy loop here would take the GIL from the startup worker.
            while not filled:
                await pilot.pause(0.05)
            assert isinstance(app.screen, HomeScreen) and app.user is not None
        at, screen = painted[0]
        assert screen is HomeScreen, f"first frame was {screen.__name__}"
        return (at - started) * 1000, (filled[0] - started) * 1000

    frame, ready = asyncio.run(run())
    print(round(frame, 1), round(ready, 1))
