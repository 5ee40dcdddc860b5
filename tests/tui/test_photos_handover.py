"""Photos on the listing screen and in the editor; meet-ups proposed and agreed on the Orders
screen (keys in the footer only when allowed). Snapshots at 80×24 and 120×36, the photo
drawn in half cells (the app is built without asking the terminal, as in any test)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select
from textual_image.widget import HalfcellImage

from p2pmarket.market import shop
from p2pmarket.models import User
from p2pmarket.services.market import demo_photos
from p2pmarket.services.money import orders
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.editor import EditorScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.meetup import MeetUpForm
from tests.tui.helpers import PASSPHRASE, Trade, settle

SIZES = [(80, 24), (120, 36)]


@pytest.fixture
def trade(store, clock):
    """bob buys lin's bike; both seen at fixed public points (the distance a snapshot shows
    is the same whatever random draws other tests made)."""
    made = Trade(store, clock)
    with store.write() as s:
        for user, point in ((made.buyer, (31.2290, 121.4480)), (made.seller, (31.2330, 121.4480))):
            row = s.get(User, user.id)
            row.public_lat, row.public_lon = point
            s.add(row)
    return made


def _picture(tmp_path, title="City bike"):
    path = tmp_path / "bike.png"
    path.write_bytes(demo_photos.draw(title, "bike"))
    return path


def _as(app: MarketApp, handle: str) -> None:
    signer = app.market.actor(handle, PASSPHRASE)
    app.log_in(signer.user, signer)


@pytest.fixture
def pictured(trade, config, clock, tmp_path):
    app = MarketApp(config=config, clock=clock, user="lin")
    app.market.trusted_actor("lin").add_photos(trade.listing.id, [_picture(tmp_path)])
    return trade


async def test_the_listing_screen_draws_its_photo_in_half_cells(pictured, config, clock):
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open(ListingScreen(pictured.listing.id))
        await settle(pilot)
        [image] = app.screen.query(HalfcellImage)
        assert image.image.name.endswith(".jpg")
        assert "Photo 1 of 1" in str(app.screen.query_one(".photo-caption").render())
        assert not app.screen.check_action("next_photo", ())  # one photo: no "next"


async def test_the_listing_shown_again_keeps_its_photo_and_shows_a_second_one(
    pictured, config, clock, tmp_path
):
    # Shown again after the store changed (a reload), the photo stays as drawn; it once
    # mounted a second widget of the same id before the first was gone, and crashed.
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open(ListingScreen(pictured.listing.id))
        await settle(pilot)
        [drawn] = app.screen.query(HalfcellImage)
        app.screen.reload()
        await settle(pilot)
        assert list(app.screen.query(HalfcellImage)) == [drawn]
        # A second photo, then shown again: the caption names the key that shows it.
        second = _picture(tmp_path, "Another bike")
        app.market.trusted_actor("lin").add_photos(pictured.listing.id, [second])
        app.screen.reload()
        app.screen.reload()
        await settle(pilot)
        assert "Photo 1 of 2 · > next" in str(app.screen.query_one(".photo-caption").render())
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert "Photo 2 of 2" in str(app.screen.query_one(".photo-caption").render())
        assert len(app.screen.query(HalfcellImage)) == 1


@pytest.mark.parametrize("size", SIZES)
def test_listing_with_a_photo_snapshot(snap_compare, pictured, config, clock, size):
    async def run_before(pilot) -> None:
        pilot.app.open(ListingScreen(pictured.listing.id))
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="bob")
    assert snap_compare(app, run_before=run_before, terminal_size=size)


async def test_the_editor_adds_a_photo_from_a_file(trade, config, clock, tmp_path):
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=(120, 36)) as pilot:
        _as(app, "lin")
        app.open(EditorScreen(trade.listing.id))
        await settle(pilot)
        editor = app.screen
        editor.query_one("#photo-files", Input).value = f'"{tmp_path / "none.jpg"}"'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is editor  # refused: stays, nothing added
        assert shop.listing(app.market, trade.listing.id).photos == ()

        editor.query_one("#photo-files", Input).value = f'"{_picture(tmp_path)}"'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is not editor
        [photo] = shop.listing(app.market, trade.listing.id).photos
        assert (photo.width, photo.height) == (640, 480)


async def _orders_of(app, pilot, handle: str, order_id: int) -> OrdersScreen:
    _as(app, handle)
    app.open(OrdersScreen(focus_order=order_id))
    await settle(pilot)
    return app.screen


def trade_order(trade) -> int:
    """bob's order of lin's bike (requested)."""
    with trade.store.write() as s:
        buyer = s.get(User, trade.buyer.id)
        return orders.create_order(s, trade.clock, buyer, trade.listing.id).id


async def test_a_meet_up_proposed_and_agreed_on_the_orders_screen(trade, config, clock):
    order = trade_order(trade)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _orders_of(app, pilot, "bob", order)
        assert "meet" in screen.allowed and "ship" not in screen.allowed
        await pilot.press("M")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, MeetUpForm)
        form.query_one("#landmark", Select).value = "park-entrance"
        form.query_one("#meet-at", Input).value = "2026-11-03T15:00"
        await pilot.click("#meet-ok")
        await settle(pilot)
        shown = app.actor.order(order).handover
        assert (shown.landmark, shown.agreed, shown.proposed_by) == ("park-entrance", False, "bob")
        assert "agree" not in screen.allowed  # one's own proposal

        screen = await _orders_of(app, pilot, "lin", order)
        assert {"meet", "ship", "agree"} <= set(screen.allowed)
        await pilot.press("A")
        await settle(pilot)
        assert app.actor.order(order).handover.agreed
        assert "agree" not in screen.allowed
        head = str(screen.query_one("#order-head").render())
        assert "Jing'an Park, west entrance" in head and "agreed" in head


@pytest.mark.parametrize("size", SIZES)
def test_order_with_an_agreed_meet_up_snapshot(snap_compare, trade, config, clock, size):
    order = trade_order(trade)
    app = MarketApp(config=config, clock=clock, user="lin")
    bob = app.market.actor("bob", PASSPHRASE)
    bob.propose_meet(order, "2026-11-03T15:00", "temple-gate")
    app.market.actor("lin", PASSPHRASE).agree_handover(order)

    async def run_before(pilot) -> None:
        pilot.app.open(OrdersScreen(focus_order=order))
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=size)
