"""Renting a camera in the TUI: the listing offers its calendar, two days are picked, and
the Orders screen walks the rental through handover, return and a claim on the deposit,
its footer offering only the steps that apply."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from textual.widgets import Input

from p2pmarket.models import Listing, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.screens.rental import RentalScreen
from p2pmarket.tui.widgets.ask import AskModal
from p2pmarket.tui.widgets.confirm import ConfirmModal
from tests.conftest import make_user
from tests.services.test_rentals import make_camera
from tests.tui.helpers import SIZE, cells, settle


def camera_for_rent(store, clock):
    owner = make_user(store, clock, "gao", verified=True, lat=31.2300, lon=121.4490)
    renter = make_user(store, clock, "bob", verified=True)
    with store.write() as s:
        ledger.topup(s, clock, renter.id, 200_000, "camera-fund")
    camera = make_camera(store, clock, owner)
    return owner, renter, camera


def shown(app: MarketApp) -> set[str]:
    return {b.binding.description for b in app.screen.active_bindings.values()}


async def test_a_camera_is_rented_from_its_calendar(store, config, clock):
    _, _, camera = camera_for_rent(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(ListingScreen(camera.id))
        await settle(pilot)
        assert "Rented by the day · deposit ¥300.00" in str(
            app.screen.query_one("#listing-head").render()
        )
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, RentalScreen)
        grid = cells(app.screen.query_one("#week"))
        # Sunday 2026-11-01 now: the week from Monday 10-26, past days dim, the rest free.
        assert grid[0][0] == "10-26" and grid[1][0] == "11-02"
        table = app.screen.query_one("#week")
        table.move_cursor(row=1, column=3)  # Thursday 11-05
        await pilot.press("enter")
        await settle(pilot)
        assert cells(app.screen.query_one("#week"))[1][3] == "11-05 from"
        table.move_cursor(row=1, column=5)  # back on Saturday 11-07
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = " ".join(str(app.screen.query_one("#confirm-question").render()).split())
        assert (
            "Rent Sony A7 III from 2026-11-05, back on 2026-11-07: 2 days × ¥150.00 + "
            "deposit ¥300.00 = ¥600.00?" in question
        )
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        order = app.screen.current
        assert (order.status, order.amount, order.deposit) == ("requested", 60000, 30000)
        panel = str(app.screen.query_one("#order-head").render())
        assert "Rented from 2026-11-05, back on 2026-11-07" in panel
        # The days are taken now: the calendar says so.
        app.open(RentalScreen(camera.id, camera.title))
        await settle(pilot)
        assert cells(app.screen.query_one("#week"))[1][3:5] == ["11-05 rented", "11-06 rented"]


async def test_the_owner_hands_over_takes_back_and_claims_the_renter_accepts(store, config, clock):
    owner, renter, camera = camera_for_rent(store, clock)
    settings = config.settings
    with store.write() as s:
        made = orders.rent_item(
            s,
            clock,
            settings,
            s.get(User, renter.id),
            camera.id,
            date(2026, 11, 2),
            date(2026, 11, 4),
        )
        orders.act(s, clock, settings, s.get(User, owner.id), made.id, "accept")
        orders.act(s, clock, settings, s.get(User, renter.id), made.id, "pay")
    app = MarketApp(config=config, clock=clock, user="gao")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(OrdersScreen(focus_order=made.id))
        await settle(pilot)
        assert {"Hand over", "Dispute"} <= shown(app)
        assert not shown(app) & {"Deliver", "Came back", "Claim deposit", "Accept claim"}
        assert "Deposit: held" in str(app.screen.query_one("#order-head").render())
        clock.set(made.slot_start + 9 * 3600)
        await pilot.press("H")
        await settle(pilot)
        assert app.screen.current.status == "handed_over"
        assert "Came back" in shown(app) and "Hand over" not in shown(app)
        clock.set(made.slot_end + 10 * 3600)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)  # the rent moves: asked once
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert app.screen.current.status == "returned"
        assert "Claim deposit" in shown(app)
        await pilot.press("C")
        await settle(pilot)
        assert isinstance(app.screen, AskModal)
        app.screen.query_one(Input).value = "120 scratched lens"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = " ".join(str(app.screen.query_one("#confirm-question").render()).split())
        assert "claim ¥120.00 of the deposit ¥300.00" in question
        await pilot.click("#confirm-yes")
        await settle(pilot)
        head = str(app.screen.query_one("#order-head").render())
        assert "Deposit: claimed ¥120.00 · claim: scratched lens" in head
        assert not shown(app) & {"Claim deposit", "Accept claim"}

    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(OrdersScreen(focus_order=made.id))
        await settle(pilot)
        assert {"Accept claim", "Dispute"} <= shown(app)
        await pilot.press("e")
        await settle(pilot)
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert app.screen.current.status == "completed"
        assert "Deposit: paid out" in str(app.screen.query_one("#order-head").render())
    with store.read() as s:
        assert ledger.balance(s, renter.id) == 200_000 - 30000 - 12000


async def test_the_editor_asks_a_deposit_of_goods_by_the_day_only(store, config, clock):
    make_user(store, clock, "gao", verified=True)
    app = MarketApp(config=config, clock=clock, user="gao")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        editor = app.screen
        assert not editor.query_one("#deposit").display  # goods by the item: no deposit
        editor.query_one("#title", Input).value = "Tent, 3-person"
        editor.query_one("#kind").value = "goods"
        editor.query_one("#category").value = "camping-gear"
        editor.query_one("#unit").value = "day"
        editor.query_one("#price", Input).value = "40"
        await settle(pilot)
        assert editor.query_one("#deposit").display
        editor.query_one("#deposit", Input).value = "300"
        await pilot.press("ctrl+s")
        await settle(pilot)
    with store.read() as s:
        tent = s.exec(select(Listing).where(Listing.title == "Tent, 3-person")).one()
    assert (tent.unit, tent.price, tent.deposit) == ("day", 4000, 30000)
