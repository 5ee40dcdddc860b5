"""Booking a lesson in the TUI: the listing offers a slot, the week view books one."""

from __future__ import annotations

from sqlmodel import select
from textual.widgets import Input

from p2pmarket.models import Order, SlotClaim, User
from p2pmarket.services.market import availability
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.booking import BookingScreen
from p2pmarket.tui.screens.hours import HoursScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal
from tests.conftest import make_listing, make_user
from tests.tui.helpers import SIZE, cells, settle


def lesson_with_hours(store, clock):
    seller = make_user(store, clock, "lin", verified=True, lat=31.2300, lon=121.4490)
    make_user(store, clock, "bob", verified=True)
    lesson = make_listing(store, clock, seller, quantity=1)
    with store.write() as s:
        availability.set_hours(
            s,
            clock,
            s.get(User, seller.id),
            lesson.id,
            "mon-fri 09:00-12:00",
            zone="Asia/Shanghai",
            buffer_after=15,
        )
    return lesson


async def test_a_lesson_is_booked_from_the_week_view(store, config, clock):
    lesson = lesson_with_hours(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(ListingScreen(lesson.id))
        await settle(pilot)
        head = str(app.screen.query_one("#listing-head").render())
        assert "Book a slot: mon-fri 09:00-12:00 (Asia/Shanghai)" in head
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BookingScreen)
        grid = cells(app.screen.query_one("#week"))
        # Sunday 2026-11-01 17:00 now: Monday to Friday free from 09:00 to 11:00, the weekend not.
        assert [row[0] for row in grid] == ["09:00", "10:00", "11:00"]
        assert grid[1][1:] == ["·", "free", "free", "free", "free", "free", "·"]
        # Monday 10:00 (row 1, column 2), then the second confirmation.
        app.screen.query_one("#week").move_cursor(row=1, column=2)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = " ".join(str(app.screen.query_one("#confirm-question").render()).split())
        assert "Book Piano lessons on 2026-11-02 10:00 (UTC+08:00) for ¥150.00?" in question
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        order = app.screen.current
        assert order.status == "requested" and order.slot_start == availability.parse_local(
            "2026-11-02T10:00", "Asia/Shanghai"
        )
        # Back in the week view, 09:00 to 11:00 on Monday are held (the buffer after 10:00).
        app.open(BookingScreen(lesson.id, lesson.title, lesson.price))
        await settle(pilot)
        grid = cells(app.screen.query_one("#week"))
        assert [row[2] for row in grid] == ["·", "·", "·"]
    with store.read() as s:
        assert len(s.exec(select(Order)).all()) == 1
        assert {c.order_id for c in s.exec(select(SlotClaim))} == {order.id}


async def test_a_seller_sets_the_week_in_the_hours_editor(store, config, clock):
    lesson = lesson_with_hours(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#shop-table").focus()
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, HoursScreen)
        form = app.screen
        assert form.query_one("#week", Input).value == "mon-fri 09:00-12:00"
        assert form.query_one("#buffer", Input).value == "15"
        form.query_one("#week", Input).value = "mon-fry 09:00-12:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form, "a refused week keeps the form open"
        form.query_one("#week", Input).value = "sat-sun 10:00-16:00"
        form.query_one("#notice", Input).value = "24"
        form.query_one("#off", Input).value = "2026-11-07"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, HoursScreen)
    with store.read() as s:
        hours = availability.hours_of(s, lesson.id, "Asia/Shanghai")
    assert (hours.week, hours.notice_hours, hours.days_off) == (
        "sat-sun 10:00-16:00",
        24,
        ["2026-11-07"],
    )
