"""The inbox through the screens: the key from Home, enter opening what an item is about
(and reading it), mark all read, a notification when something arrives while the app is
open; saving a search (ctrl+s) and watching a listing (f). Snapshots at 80×24 and 120×36."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select, Static

from p2pmarket.clock import HOUR
from p2pmarket.market import Market
from p2pmarket.models import Kind, Unit
from p2pmarket.services.market import catalog, demo, search
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.inbox import InboxScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.screens.search import SearchScreen
from p2pmarket.tui.widgets.ask import AskModal
from p2pmarket.tui.widgets.confirm import ConfirmModal
from p2pmarket.tui.widgets.results import ResultsTable
from p2pmarket.tui.widgets.saved_searches import SavedSearches
from p2pmarket.tui.widgets.table import MarketTable
from tests.conftest import make_listing
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


def _saved_with_a_new_hit(store, clock, trade: Trade):
    """Bob saved two searches; a road bike was listed after them (a hit for 'bikes')."""
    bob = Market(store, clock).trusted_actor("bob")
    bob.save_search("bikes", search.Query(text="bike", radius_km=10, max_price=500_00))
    bob.save_search("pianos", search.Query(text="piano", kind=Kind.goods))
    clock.advance(HOUR)
    return make_listing(
        store,
        clock,
        trade.seller,
        kind=Kind.goods,
        title="Road bike, new tyres",
        category="bicycles",
        unit=Unit.item,
        price=300_00,
    )


async def test_saved_searches_run_on_search_with_new_hits_marked_and_delete(store, config, clock):
    trade = Trade(store, clock)
    hit = _saved_with_a_new_hit(store, clock, trade)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "v")
        await settle(pilot)
        assert isinstance(app.screen, SavedSearches)
        assert cells(app.screen.query_one("#saved", MarketTable)) == [
            ["bikes", "'bike' within 10 km · up to ¥500.00", "1"],
            ["pianos", "'piano' within 3 km · goods", "—"],
        ]
        await pilot.press("enter")
        await settle(pilot)
        # The search runs with its words, radius and filters; its new hit is marked.
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        values = {w: screen.query_one(f"#{w}", Input).value for w in ("q", "radius", "max-price")}
        assert values == {"q": "bike", "radius": "10", "max-price": "500.00"}
        rows = cells(screen.query_one("#results", ResultsTable))
        assert sorted(r[0] for r in rows) == ["City bike, barely used", "● Road bike, new tyres"]
        status = str(screen.query_one("#search-status", Static).content)
        assert status.endswith("· saved search 'bikes' · ● 1 new since your last look"), status
        bob = Market(store, clock).trusted_actor("bob")
        assert [(s.name, s.new_hits) for s in bob.saved_searches()] == [
            ("bikes", 0),
            ("pianos", 0),
        ]
        assert not any(i.ref_id == hit.id and not i.read for i in bob.inbox().items)

        # From Search too (ctrl+g): delete one, asked once; the list comes back without it.
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, SavedSearches)
        await pilot.press("down", "d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert isinstance(app.screen, SavedSearches)
        assert [r[0] for r in cells(app.screen.query_one("#saved", MarketTable))] == ["bikes"]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
    assert [s.name for s in Market(store, clock).trusted_actor("bob").saved_searches()] == ["bikes"]


async def test_a_saved_search_puts_back_its_kind_and_sort(store, config, clock):
    trade = Trade(store, clock)
    _saved_with_a_new_hit(store, clock, trade)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        app.open(SearchScreen(saved="pianos"))
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#q", Input).value == "piano"
        assert (
            screen.query_one("#kind", Select).value,
            screen.query_one("#sort", Select).value,
        ) == (
            "goods",
            "best",
        )
        assert screen.query_one("#category", Select).value is Select.NULL
        assert "of home" in str(screen.query_one("#search-status", Static).content)


async def test_a_saved_search_centred_elsewhere_runs_there(store, config, clock):
    Trade(store, clock)
    bob = Market(store, clock).trusted_actor("bob")
    bob.save_search("pudong", search.Query(text="bike", radius_km=2), area="lujiazui")
    place = catalog.area("lujiazui")
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        app.open(SearchScreen(saved="pudong"))
        await settle(pilot)
        status = str(app.screen.query_one("#search-status", Static).content)
        assert f"of {place.lat:.3f},{place.lon:.3f}" in status, status
        # The bike near home (~10 km from there) is not within its 2 km.
        assert cells(app.screen.query_one("#results", ResultsTable)) == []


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_saved_searches_snapshot(snap_compare, store, config, clock, size):
    trade = Trade(store, clock)
    _saved_with_a_new_hit(store, clock, trade)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l", "v")
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="bob")
    assert snap_compare(app, run_before=run_before, terminal_size=size)
