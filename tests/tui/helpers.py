"""Shared by the TUI tests: a settled screen (workers done, no blinking cursor) and markets."""

from __future__ import annotations

from contextlib import suppress

from textual.widgets import DataTable, Input
from textual.worker import WorkerCancelled

from p2pmarket.models import Kind, Role, Unit
from p2pmarket.services.money import ledger
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


__all__ = ["PASSPHRASE", "SIZE", "Trade", "cells", "settle"]
