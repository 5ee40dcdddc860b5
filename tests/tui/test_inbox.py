"""The inbox through the screens: the key from Home, enter opening what an item is about
(and reading it), mark all read, a notification when something arrives while the app is
open; saving a search (ctrl+s) and watching a listing (f). Snapshots at 80×24 and 120×36."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from p2pmarket.market import Market
from p2pmarket.services.market import demo
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.inbox import InboxScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.ask import AskModal
from p2pmarket.tui.widgets.table import MarketTable
from tests.tui.helpers import SIZE, Trade, cells, settle


async def test_inbox_opens_what_an_item_is_about_and_reads_it(store, config, clock):
    trade = Trade(store, clock)
    market = Market(store, clock)
    bob = market.trusted_actor("bob")
    bob.send_message("lin", "Is the bike still there?")
    made = bob.create_order(trade.listing.id)
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Inbox: 2 unread" in str(app.screen.query_one("#notices", Static).content)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen)
        table = app.screen.query_one("#inbox", MarketTable)
        rows = cells(table)
        assert [r[2] for r in rows] == ["order", "message"]
        assert (
            rows[0][3]
            == f"@bob ordered City bike, barely used (order #{made.id}): accept or decline it."
        )
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen) and app.screen.current.id == made.id
        await pilot.press("escape")
        await settle(pilot)
        assert [r[0] for r in cells(table)] == [" ", "●"]
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen) and app.screen.other == "bob"
        await pilot.press("escape")
        await settle(pilot)
        assert market.trusted_actor("lin").inbox().unread == 0
        # Something new while the app is open: a notification says what.
        bob.create_order(trade.listing.id)
        app.check_inbox()
        await settle(pilot)
        told = [n.message for n in app._notifications]
        assert any("@bob ordered City bike" in m for m in told)
        for _ in range(30):  # the store poll (every 0.3 s) has the screen re-read
            if next(r[0] for r in cells(table)) == "●":
                break
            await pilot.pause(0.1)
        assert next(r[0] for r in cells(table)) == "●"
        await pilot.press("a")
        await settle(pilot)
        assert all(r[0] == " " for r in cells(table))
        assert "0 unread" in str(app.screen.query_one("#inbox-summary", Static).content)


async def test_ctrl_s_saves_the_search_and_f_watches_a_listing(store, config, clock):
    trade = Trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        app.screen.query_one("#q", Input).value = "bike"
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AskModal)
        await pilot.press("enter")
        await settle(pilot)
        app.open(ListingScreen(trade.listing.id))
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
    bob = Market(store, clock).trusted_actor("bob")
    assert [(s.name, s.text) for s in bob.saved_searches()] == [("bike", "bike")]
    assert [w.listing_id for w in bob.watched()] == [trade.listing.id]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_inbox_snapshot(snap_compare, store, config, clock, size):
    demo.load_demo(store, clock)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="demo")
    assert snap_compare(app, run_before=run_before, terminal_size=size)
