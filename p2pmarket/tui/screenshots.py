"""SVG screenshots of the main screens, taken by the app itself (README, docs/screenshots).

Drives a demo market in a throwaway home with a fixed clock, so the pictures are
reproducible; each one is `App.save_screenshot` of a real screen.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from p2pmarket.clock import parse_instant

DEMO_NOW = "2026-11-01T09:00:00"
SIZE = (120, 34)

# (file name, keys pressed from the home screen)
SHOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("home", ()),
    ("search", ("s", "tab", "backspace", "1", "0", "shift+tab", *"bike")),
    ("listing", ("s", "tab", "backspace", "1", "0", "shift+tab", *"piano", "enter", "enter")),
    ("photo", ("s", "tab", "backspace", "1", "0", "shift+tab", *"road bike", "enter", "enter")),
    ("editor", ("e",)),
    ("orders", ("o",)),
    ("chat", ("c",)),
    ("credit", ("r",)),
    ("privacy", ("p",)),
    ("inbox", ("l",)),
)


async def _settle(pilot) -> None:
    from textual.widgets import Input

    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def _shoot(home: Path, out: Path, name: str, keys: tuple[str, ...], user: str) -> Path:
    from p2pmarket.clock import FixedClock
    from p2pmarket.tui.app import MarketApp

    app = MarketApp(home=home, user=user, clock=FixedClock(parse_instant(DEMO_NOW)))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        if keys:
            await pilot.press(*keys)
            await _settle(pilot)
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))


def take(out: Path) -> list[Path]:
    from p2pmarket import config as config_mod
    from p2pmarket.clock import FixedClock
    from p2pmarket.market import Market, records

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="p2pmarket-shots-") as tmp:
        home = Path(tmp)
        market = Market.open(config_mod.resolve(home=home), FixedClock(parse_instant(DEMO_NOW)))
        demo = records.load_demo(market)
        market.close()
        for name, keys in SHOTS:
            written.append(asyncio.run(_shoot(home, out, name, keys, demo.user)))
        written.append(asyncio.run(_shoot(home, out, "mediation", ("m",), "mei_mediator")))
    return written
