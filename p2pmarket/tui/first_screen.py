"""Run in a fresh interpreter by `bench tui`: print ms from `started` to the home screen."""

from __future__ import annotations

import asyncio
import time


def main(home: str, started: float) -> None:
    from p2pmarket.services import demo
    from p2pmarket.tui.app import MarketApp
    from p2pmarket.tui.screens.home import HomeScreen

    async def run() -> float:
        app = MarketApp(home=home, user=demo.DEMO_USER)
        async with app.run_test(size=(120, 34)) as pilot:
            while not isinstance(app.screen, HomeScreen) or not app.screen.is_mounted:
                await pilot.pause(0.001)
            await pilot.pause()
            return (time.time() - started) * 1000

    print(round(asyncio.run(run()), 1))
