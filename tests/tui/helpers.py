"""Shared by the TUI tests: a settled screen (workers done, no blinking cursor) and markets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from textual.widgets import Button, DataTable, Input
from textual.worker import WorkerCancelled

from p2pmarket.models import Kind, Role, Unit
from p2pmarket.services.market import demo
from p2pmarket.services.money import ledger
from p2pmarket.tui.app import MarketApp
from tests.conftest import PASSPHRASE, make_listing, make_user

SIZE = (120, 34)


async def settle(pilot, rounds: int = 3) -> None:
    app = pilot.app
    for _ in range(rounds):
        # A newer look at the inbox cancels one still reading (a slower store, a user
        # switched): waiting for the cancelled one raises, though nothing went wrong.
        with suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def press(pilot, selector: str) -> None:
    """Press a button (focus, Enter) and settle. A button ignores a press while it still
    shows its last one (0.2 s, Textual's `-active`): on a fast machine a second press of
    the same button came inside that and was lost, so this waits it out first."""
    button = pilot.app.screen.query_one(selector, Button)
    while button.has_class("-active"):
        await pilot.pause(0.05)
    button.focus()
    await pilot.press("enter")
    await settle(pilot)


@asynccontextmanager
async def demo_app(store, config, clock, *keys: str, size=SIZE) -> AsyncIterator[tuple]:
    """The demo market's app logged in as demo, settled, then after each of `keys`:
    (app, pilot)."""
    demo.load_demo(store, clock)
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        yield app, pilot


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


class Trade:
    """A buyer with money and a seller with a listing nearby, and a mediator."""

    def __init__(self, store, clock, *, title="City bike, barely used", price=12000):
        self.store, self.clock = store, clock
        self.buyer = make_user(store, clock, "bob", verified=True)
        self.seller = make_user(store, clock, "lin", verified=True, lat=31.2300, lon=121.4490)
        self.mediator = make_user(store, clock, "mei", role=Role.mediator, verified=True)
        self.listing = make_listing(
            store,
            clock,
            self.seller,
            kind=Kind.goods,
            title=title,
            category="bicycles",
            unit=Unit.item,
            price=price,
            quantity=2,
        )
        with store.write() as s:
            ledger.topup(s, clock, self.buyer.id, 100_000, "test-topup")


__all__ = ["PASSPHRASE", "SIZE", "Trade", "cells", "demo_app", "settle"]
