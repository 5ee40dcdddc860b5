"""A snapshot per screen at 80×24 and 120×36 (fixed clock, the demo market, no blinking
cursor).

State is asserted first in the Pilot tests; these pin what a person sees.
"""

from __future__ import annotations

import pytest

from p2pmarket.services.market import demo, shops
from p2pmarket.services.money import orders
from p2pmarket.services.trust import accounts
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.booking import BookingScreen
from p2pmarket.tui.screens.hours import HoursScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.screens.rental import RentalScreen
from tests.tui.helpers import settle

# Every screen at the smallest size it must work at and at a roomy one.
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])


@pytest.fixture
def market(store, clock):
    demo.load_demo(store, clock)
    return store


def _app(config, clock, user="demo") -> MarketApp:
    return MarketApp(config=config, clock=clock, user=user)


def _keys(*keys):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


@SIZES
@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("orders", ("o",)),
        ("chat", ("c",)),
        ("credit", ("r",)),
        ("privacy", ("p",)),
        ("contacts", ("t",)),
        ("help", ("question_mark",)),
        ("search", ("s", "tab", "backspace", *"10", "shift+tab", *"bike")),
        ("editor", ("e",)),
        ("home", ()),
    ],
)
def test_screen_snapshot(snap_compare, market, config, clock, name, keys, size):
    assert snap_compare(_app(config, clock), run_before=_keys(*keys), terminal_size=size)


@SIZES
def test_login_snapshot(snap_compare, market, config, clock, size):
    assert snap_compare(
        MarketApp(config=config, clock=clock), run_before=settle, terminal_size=size
    )


@SIZES
def test_mediation_snapshot(snap_compare, market, config, clock, size):
    assert snap_compare(
        _app(config, clock, user="mei_mediator"), run_before=_keys("m"), terminal_size=size
    )


@SIZES
def test_listing_snapshot(snap_compare, market, config, clock, size):
    with market.read() as session:
        listing = shops.list_listings(session, seller="lin_piano", limit=1)[0]

    async def run_before(pilot) -> None:
        pilot.app.open(ListingScreen(listing.id))
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)


@SIZES
def test_payment_modal_snapshot(snap_compare, market, config, clock, size):
    async def run_before(pilot) -> None:
        app = pilot.app
        with app.market.store.read() as session:
            mine = orders.list_orders(session, app.user.id, side="buying", open_only=True)
        payable = [o for o in mine if "pay" in orders.allowed_actions(o, "demo", "member")]
        assert payable, "the demo market has an order for demo to pay"
        app.open(OrdersScreen(focus_order=payable[0].id))
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)


@SIZES
def test_booking_week_snapshot(snap_compare, market, config, clock, size):
    """lin_piano's adult lessons from Sunday 17:00: the demo's paid lesson holds Monday 18:00."""
    with market.read() as session:
        lesson = next(
            v
            for v in shops.list_listings(session, seller="lin_piano", limit=10)
            if v.title.startswith("Adult piano lessons")
        )

    async def run_before(pilot) -> None:
        pilot.app.open(BookingScreen(lesson.id, lesson.title, lesson.price))
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)


@SIZES
def test_rental_order_snapshot(snap_compare, market, config, clock, size):
    """The demo's claimed bike rental as its renter sees it: the deposit's claim, the
    answer window, and only accept-claim and dispute in the footer."""
    with market.read() as session:
        mine = orders.list_orders(session, accounts.user_row(session, "demo").id, side="buying")
    claimed = next(o for o in mine if o.status == "claimed")

    async def run_before(pilot) -> None:
        pilot.app.open(OrdersScreen(focus_order=claimed.id))
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)


@SIZES
def test_rental_calendar_snapshot(snap_compare, market, config, clock, size):
    """gao_camera's drone from Sunday 2026-11-01: the demo's rental holds three days."""
    with market.read() as session:
        drone = next(
            v
            for v in shops.list_listings(session, seller="gao_camera", limit=10)
            if v.title.startswith("DJI Mini 3")
        )

    async def run_before(pilot) -> None:
        pilot.app.open(RentalScreen(drone.id, drone.title))
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)


@SIZES
def test_hours_snapshot(snap_compare, market, config, clock, size):
    """The demo's weekly hours for one of their time listings."""
    with market.read() as session:
        mine = shops.list_listings(session, seller="demo", limit=20)
    timed = next(v for v in mine if v.kind != "goods")

    async def run_before(pilot) -> None:
        pilot.app.open(HoursScreen(timed.id))
        await settle(pilot)

    assert snap_compare(_app(config, clock), run_before=run_before, terminal_size=size)
