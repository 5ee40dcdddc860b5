"""Snapshots of a dispute on the demo market at 80×24 and 120×36: the modal that opens one
(a reason typed, a chat line picked), the mediator's view of the demo's dispute (its
reason, the seller's statement, both parties' credit, the timeline) and the decision form
splitting it, and a party's Orders screen showing the same case above the order's timeline.
The flow itself is asserted in test_flows.py."""

from __future__ import annotations

import pytest

from p2pmarket.services.market import demo
from p2pmarket.services.money import orders
from p2pmarket.services.trust import accounts
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.orders import OrdersScreen
from tests.tui.helpers import settle

SIZES = [(80, 24), (120, 36)]


@pytest.fixture
def market(store, clock):
    demo.load_demo(store, clock)
    return store


@pytest.mark.parametrize("size", SIZES)
def test_dispute_modal_snapshot(snap_compare, market, config, clock, size):
    """demo disputes the dog walk sara_dogs was paid for, picking her first chat line."""
    with market.read() as session:
        mine = orders.list_orders(session, accounts.user_row(session, "demo").id, side="buying")
    walk = next(o for o in mine if o.status == "paid" and o.seller == "sara_dogs")

    async def run_before(pilot) -> None:
        pilot.app.open(OrdersScreen(focus_order=walk.id))
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        await pilot.press(*"She never came on Tuesday", "tab", "space")
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="demo")
    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("deciding", [False, True], ids=["case", "form"])
def test_mediator_view_snapshot(snap_compare, market, config, clock, size, deciding):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        if deciding:
            await pilot.press("v", "down", "down", "enter", "tab", *"40")
            await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="mei_mediator")
    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_party_sees_the_case_on_the_orders_screen_snapshot(
    snap_compare, market, config, clock, size
):
    """zhou_fixit, the seller of the demo's disputed order, reads its reason and statements
    in the order's pane (scrolled to the case at 80×24)."""
    with market.read() as session:
        zhou = accounts.user_row(session, "zhou_fixit")
        sold = orders.list_orders(session, zhou.id, side="selling")
    disputed = next(o for o in sold if o.status == "disputed")

    async def run_before(pilot) -> None:
        pilot.app.open(OrdersScreen(focus_order=disputed.id))
        await settle(pilot)
        case = pilot.app.screen.query_one("#order-case")
        assert "Reason: The fan is louder" in str(case.render())
        pilot.app.screen.query_one("#order-panel").scroll_to_widget(case, animate=False)
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="zhou_fixit")
    assert snap_compare(app, run_before=run_before, terminal_size=size)


async def test_mediator_reaches_the_case_and_the_timeline_at_80x24(market, config, clock):
    """The case and the timeline scroll together in the order's pane, under the lists: the
    case shows first, and the pane (Tab) scrolls on to the timeline's last step."""
    app = MarketApp(config=config, clock=clock, user="mei_mediator")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        panel = screen.query_one("#order-panel")
        case, timeline = screen.query_one("#order-case"), screen.query_one("#order-timeline")
        assert "Reason: The fan is louder" in str(case.render())
        assert panel.region.intersection(case.region).height > 0
        assert panel.region.intersection(timeline.region).height == 0  # below, to scroll to
        while screen.focused is not panel:
            await pilot.press("tab")
        await pilot.press("end")
        await settle(pilot)
        assert panel.scroll_y == panel.max_scroll_y > 0
        assert panel.region.intersection(timeline.region).height > 0
