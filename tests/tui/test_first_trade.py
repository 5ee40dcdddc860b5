"""#13's Show: a whole first trade at 80×24, by keys alone, each one the footer or help shows.

The seller lists an item; the buyer finds it, orders, pays (the second confirmation);
the seller delivers; the buyer confirms; both review; both see their credit move.
Each person logs in through the login screen (u: switch user), so each signs their steps.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from p2pmarket.services.market import catalog
from p2pmarket.services.money import ledger
from p2pmarket.services.trust import credit
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.commands import _screen_bindings
from p2pmarket.tui.screens.credit import CreditScreen
from p2pmarket.tui.screens.editor import EditorScreen
from p2pmarket.tui.screens.home import HomeScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.login import LoginScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal
from p2pmarket.tui.widgets.payment import PaymentModal
from tests.tui.helpers import PASSPHRASE, Trade, cells, settle

NARROW = (80, 24)


async def _key(pilot, key: str) -> None:
    """Press a key a person can find: in the footer's visible part, or listed by help."""
    app = pilot.app
    width = app.screen.size.width
    footer = {k.key for k in app.screen.query(FooterKey) if 0 < k.region.right <= width}
    helped = {b.key for b in _screen_bindings(app.screen)} | {b.key for b in app.BINDINGS}
    assert key in footer | helped, (key, sorted(footer))
    await pilot.press(key)
    await settle(pilot)


async def _type(pilot, text: str, *then: str) -> None:
    await pilot.press(*text, *then)
    await settle(pilot)


async def _log_in(pilot, handle: str) -> None:
    if not isinstance(pilot.app.screen, LoginScreen):
        await _key(pilot, "u")
    assert isinstance(pilot.app.screen, LoginScreen)
    await _type(pilot, handle, "enter")
    await _type(pilot, PASSPHRASE, "enter")
    assert isinstance(pilot.app.screen, HomeScreen) and pilot.app.user.handle == handle


async def _my_move(pilot, handle: str, key: str) -> None:
    """As `handle`, from home, the open order that waits on me (tab to the orders, enter),
    then `key`: that order's step."""
    await _log_in(pilot, handle)
    await _type(pilot, "", "tab")
    assert pilot.app.focused.id == "home-orders"
    await _type(pilot, "", "enter")
    assert isinstance(pilot.app.screen, OrdersScreen)
    await _key(pilot, key)


async def _review(pilot, words: str) -> None:
    await _key(pilot, "R")
    await _type(pilot, words, "enter")


@pytest.mark.slow
async def test_a_first_trade_at_80x24_by_the_keys_on_screen(store, config, clock):
    trade = Trade(store, clock)
    with store.read() as s:
        before = credit.scores_for(s, [trade.buyer.id, trade.seller.id])
    goods = sorted(
        (c for c in catalog.categories().values() if "goods" in c.kinds), key=lambda c: c.name
    )
    bicycles = [c.slug for c in goods].index("bicycles")
    app = MarketApp(config=config, clock=clock)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await _log_in(pilot, "lin")

        # The seller lists a kids bike: title, kind goods, category from the list, a price.
        await _key(pilot, "a")
        assert isinstance(app.screen, EditorScreen)
        await _type(pilot, "Kids bike with helmet", "tab", "tab", "tab", "enter")
        await _type(pilot, "", *["down"] * (bicycles + 1), "enter")
        assert app.screen.query_one("#category").value == "bicycles"
        await _type(pilot, "", "tab", "tab", "tab", *"90")
        assert app.focused.id == "price"
        await _key(pilot, "ctrl+s")
        assert isinstance(app.screen, HomeScreen)
        assert any(
            "Kids bike with helmet" in row[1] for row in cells(app.screen.query_one("#shop-table"))
        )

        # The buyer finds it by typing, opens it and orders one.
        await _log_in(pilot, "bob")
        await _key(pilot, "slash")
        await _type(pilot, "kids bik")
        rows = cells(app.screen.query_one("#results"))
        assert rows and "Kids bike with helmet" in rows[0][0]
        await _type(pilot, "", "enter", "enter")
        assert isinstance(app.screen, ListingScreen)
        await _key(pilot, "b")
        await _type(pilot, "", "enter")  # how many: the 1 it offers
        assert isinstance(app.screen, OrdersScreen)
        order = app.screen.current
        assert (order.status, order.amount) == ("requested", 9_000)

        # The seller accepts it from home.
        await _my_move(pilot, "lin", "a")
        assert (app.screen.current.id, app.screen.current.status) == (order.id, "accepted")

        # The buyer pays: the second confirmation asks for the passphrase.
        await _my_move(pilot, "bob", "y")
        assert isinstance(app.screen, PaymentModal)
        assert isinstance(app.focused, Input)
        await _type(pilot, PASSPHRASE, "enter")
        assert app.screen.current.status == "paid"
        with store.read() as s:
            assert ledger.balance(s, trade.buyer.id) == 100_000 - 9_000

        # The seller delivers; the buyer confirms (it releases money: asked once) and reviews.
        await _my_move(pilot, "lin", "d")
        assert app.screen.current.status == "delivered"
        await _my_move(pilot, "bob", "f")
        assert isinstance(app.screen, ConfirmModal)
        await _type(pilot, "", "tab", "enter")
        assert app.screen.current.status == "completed"
        await _review(pilot, "5 as described, kind seller")
        with store.read() as s:
            assert ledger.balance(s, trade.seller.id) == 9_000

        # The seller reviews from the inbox's news of the completed order.
        await _log_in(pilot, "lin")
        await _key(pilot, "l")
        news = cells(app.screen.query_one("#inbox"))
        row = next(i for i, r in enumerate(news) if f"#{order.id}" in r[3] and "completed" in r[3])
        await _type(pilot, "", *["down"] * row, "enter")
        assert isinstance(app.screen, OrdersScreen) and app.screen.current.id == order.id
        await _review(pilot, "4 paid at once")
        assert "review" not in app.screen.allowed  # one review per side

        # Both see the credit move, with the order as its reason.
        for who in ("lin", "bob"):
            await _log_in(pilot, who)
            await _key(pilot, "r")
            assert isinstance(app.screen, CreditScreen)
            reasons = " ".join(e.reason for e in app.screen.history)
            assert f"completed order #{order.id}" in reasons, reasons
    with store.read() as s:
        after = credit.scores_for(s, [trade.buyer.id, trade.seller.id])
    for uid in (trade.buyer.id, trade.seller.id):
        assert after[uid].transaction > before[uid].transaction
        assert after[uid].social > before[uid].social  # the review each got
