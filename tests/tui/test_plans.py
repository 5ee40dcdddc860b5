"""The Plan screen on the demo market (Sunday 2026-11-01 17:00 in Shanghai): the ready
wish proposed, a proposal booked and paid behind the payment modal, the booked day."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import Input

from p2pmarket.models import Order, OrderStatus, Plan, User
from p2pmarket.services.market import demo
from p2pmarket.services.money import ledger, orders
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.plan import PlanScreen
from p2pmarket.tui.widgets.payment import PaymentModal
from tests.tui.helpers import SIZE, cells, settle

PASSPHRASE = "market-demo-2026"


@pytest.fixture
def market(store, clock):
    demo.load_demo(store, clock)
    return store


async def _propose(pilot) -> None:
    await settle(pilot)
    await pilot.press("P")
    await settle(pilot)
    pilot.app.screen.query_one("#plan-legs", Input).focus()
    await pilot.press("enter")
    await settle(pilot)


async def test_the_demo_wish_is_proposed_and_booked_in_one_payment(market, config, clock):
    app = MarketApp(config=config, clock=clock, user="demo")
    async with app.run_test(size=SIZE) as pilot:
        await _propose(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert screen.query_one("#plan-date", Input).value == "2026-11-07"
        rows = cells(screen.query_one("#plan-table"))
        assert [row[0] for row in rows] == [f"proposal {n}" for n in range(1, len(rows) + 1)]
        assert len(rows) >= 2
        first = screen.plans[next(iter(screen.plans))]
        timeline = str(screen.query_one("#plan-timeline").render())
        assert timeline.startswith("Proposal 1 · 2026-11-07 13:00–19:00")
        assert "b books and pays every leg at once" in timeline
        with market.read() as s:
            me = s.exec(select(User).where(User.handle == "demo")).one()
            before = ledger.balance(s, me.id)

        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, PaymentModal)
        assert app.screen.preview.amount == first.total
        app.screen.query_one("#pay-passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        rows = cells(screen.query_one("#plan-table"))
        assert rows == [[f"plan #{first.id} booked", *rows[0][1:]]]
        timeline = str(screen.query_one("#plan-timeline").render())
        assert timeline.startswith(f"Plan #{first.id}, booked")
        assert timeline.count(" paid") == 3
        with market.read() as s:
            legs = s.exec(select(Order).where(Order.buyer_id == me.id)).all()
            # The demo's own rentals hold days too: a plan leg has a slot and no deposit.
            paid = [
                o
                for o in legs
                if o.status == OrderStatus.paid and o.slot_start and o.deposit is None
            ]
            assert len(paid) == 3
            assert ledger.balance(s, me.id) == before - first.total
            assert s.get(Plan, first.id).status == "booked"

        # The sitter calls their leg off: the day shows what still fits, e books it.
        booked = screen.plans[first.id]
        sitter = next(leg for leg in booked.legs if leg.wish == "babysitting")
        with market.write() as s:
            seller = s.exec(select(User).where(User.handle == sitter.seller)).one()
            orders.act(s, clock, app.market.settings, seller, sitter.order_id, "cancel")
        screen.reload()
        await settle(pilot)
        timeline = str(screen.query_one("#plan-timeline").render())
        assert f"Leg {sitter.position} was cancelled and refunded. Still fitting:" in timeline
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, PaymentModal)
        app.screen.query_one("#pay-passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await settle(pilot)
        timeline = str(screen.query_one("#plan-timeline").render())
        assert timeline.count(" paid") == 3 and "refunded" not in timeline


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_plan_snapshot(snap_compare, market, config, clock, size):
    app = MarketApp(config=config, clock=clock, user="demo")
    assert snap_compare(app, run_before=_propose, terminal_size=size)
