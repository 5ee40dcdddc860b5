"""Whole flows through the screens, on a real store, with time moved by the fixed clock."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input, RadioSet, RichLog

from p2pmarket.clock import HOUR
from p2pmarket.models import Kind, Unit
from p2pmarket.services.money import ledger
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.credit import CreditScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.mediation import MediationScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal
from p2pmarket.tui.widgets.decision import DecisionForm
from p2pmarket.tui.widgets.dispute import DisputeModal
from p2pmarket.tui.widgets.payment import PaymentModal
from tests.conftest import make_listing, make_user
from tests.tui.helpers import PASSPHRASE, SIZE, Trade, cells, settle


def _as(app: MarketApp, handle: str) -> None:
    """Log in with the passphrase: what each person does is signed with their key."""
    signer = app.market.actor(handle, PASSPHRASE)
    app.log_in(signer.user, signer)


async def _act(pilot, key: str) -> None:
    await pilot.press(key)
    await settle(pilot)


async def _confirm(pilot) -> str:
    """The second confirmation of a step that moves money: what it says, then yes."""
    app = pilot.app
    assert isinstance(app.screen, ConfirmModal)
    said = " ".join(str(app.screen.query_one("#confirm-question").render()).split())
    await pilot.click("#confirm-yes")
    await settle(pilot)
    return said


async def _pay_with_modal(pilot) -> None:
    app = pilot.app
    await pilot.press("y")
    await settle(pilot)
    assert isinstance(app.screen, PaymentModal)
    preview = app.screen.preview
    assert preview.to == "lin" and preview.balance_after == preview.balance_before - preview.amount
    await pilot.press(*"not it", "enter")
    await settle(pilot)
    assert isinstance(app.screen, PaymentModal), "a wrong passphrase must not pay"
    assert "does not open" in str(app.screen.query_one("#pay-error").render())
    app.screen.query_one("#pay-passphrase", Input).value = PASSPHRASE
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.slow
async def test_list_search_order_pay_deliver_confirm(store, config, clock):
    trade = Trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # The seller lists something new through the editor.
        await pilot.press("a")
        await settle(pilot)
        editor = app.screen
        editor.query_one("#title", Input).value = "Kids bike with helmet"
        editor.query_one("#kind").value = "goods"
        editor.query_one("#category").value = "bicycles"
        editor.query_one("#unit").value = "item"
        editor.query_one("#price", Input).value = "90"
        await settle(pilot)
        # One other bike nearby: too few to judge ¥90 by, and the band says so.
        band = editor.query_one("#band")
        shown = " ".join(str(band.render()).split())
        assert band.verdict is None and "Too few similar items to judge" in shown, shown
        assert "only 1 similar 'bike' item across the market" in shown
        await pilot.press("ctrl+s")
        await settle(pilot)
        shop = cells(app.screen.query_one("#shop-table"))
        assert any("Kids bike with helmet" in row[1] for row in shop)

        # The buyer searches as they type, opens the listing and orders it.
        _as(app, "bob")
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"kids bik")
        await settle(pilot)
        rows = cells(app.screen.query_one("#results"))
        assert rows and "Kids bike with helmet" in rows[0][0]
        assert rows[0][4].startswith(("<", "~"))  # a rounded distance, never a spot
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ListingScreen)
        await _act(pilot, "b")
        await _act(pilot, "enter")  # how many: the 1 it offers
        assert isinstance(app.screen, OrdersScreen)
        order = app.screen.current
        assert order.status == "requested" and order.buyer == "bob"

        # The seller accepts; the buyer pays through the second confirmation.
        _as(app, "lin")
        app.action_goto("orders")
        await settle(pilot)
        await _act(pilot, "right")  # the Selling tab
        app.screen.query_one("#order-tabs").active = "tab-selling"
        await settle(pilot)
        app.screen.query_one("#selling").focus()
        await settle(pilot)
        assert app.screen.current.id == order.id
        await _act(pilot, "a")
        assert app.screen.current.status == "accepted"

        _as(app, "bob")
        app.action_goto("orders")
        await settle(pilot)
        app.screen.query_one("#buying").focus()
        await settle(pilot)
        await _pay_with_modal(pilot)
        assert app.screen.current.status == "paid"
        with store.read() as s:
            assert ledger.balance(s, trade.buyer.id) == 100_000 - 9_000

        # Delivered, then confirmed: the money reaches the seller.
        _as(app, "lin")
        app.action_goto("orders")
        await settle(pilot)
        app.screen.query_one("#order-tabs").active = "tab-selling"
        app.screen.query_one("#selling").focus()
        await settle(pilot)
        await _act(pilot, "d")
        assert app.screen.current.status == "delivered"
        _as(app, "bob")
        app.action_goto("orders")
        await settle(pilot)
        app.screen.query_one("#buying").focus()
        await settle(pilot)
        await _act(pilot, "f")
        said = await _confirm(pilot)
        assert "¥90.00 is released from escrow to @lin; this can't be undone" in said
        assert app.screen.current.status == "completed"
        with store.read() as s:
            assert ledger.balance(s, trade.seller.id) == 9_000

        # Both credit histories show the completed order.
        for who in ("bob", "lin"):
            _as(app, who)
            app.action_goto("credit")
            await settle(pilot)
            assert isinstance(app.screen, CreditScreen)
            reasons = " ".join(e.reason for e in app.screen.history)
            assert f"completed order #{order.id}" in reasons, reasons
            assert app.screen.query_one("#credit-records").row_count >= 1


async def _order_accept_and_pay(app, pilot, trade) -> int:
    """As bob: order the trade's listing; lin accepts; bob pays through the modal."""
    app.open(ListingScreen(trade.listing.id))
    await settle(pilot)
    await _act(pilot, "b")
    await _act(pilot, "enter")  # how many: the 1 it offers
    order_id = app.screen.current.id
    _as(app, "lin")
    app.open(OrdersScreen(focus_order=order_id))
    await settle(pilot)
    await _act(pilot, "a")
    _as(app, "bob")
    app.open(OrdersScreen(focus_order=order_id))
    await settle(pilot)
    app.screen.query_one("#buying").focus()
    await _pay_with_modal(pilot)
    return order_id


async def test_buyer_revokes_within_the_window(store, config, clock):
    trade = Trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await _order_accept_and_pay(app, pilot, trade)
        panel = str(app.screen.query_one("#order-timers").render())
        assert "revoke window: 1d 0h" in panel
        clock.advance(2 * HOUR)
        await _act(pilot, "v")
        assert isinstance(app.screen, ConfirmModal), "a revoke moves money: it asks first"
        await pilot.click("#confirm-no")
        await settle(pilot)
        assert app.screen.current.status == "paid"
        await _act(pilot, "v")
        said = await _confirm(pilot)
        assert "¥120.00 goes back from escrow to you" in said
        assert "lowers your transaction credit by 3" in said
        assert app.screen.current.status == "refunded"
        with store.read() as s:
            assert ledger.balance(s, trade.buyer.id) == 100_000


@pytest.mark.slow
async def test_dispute_with_a_reason_a_statement_and_a_mediators_split(store, config, clock):
    """bob opens a dispute with a reason and a chat line attached, lin adds her statement,
    and the mediator reads both and splits with the form, which says who gets what."""
    trade = Trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        order_id = await _order_accept_and_pay(app, pilot, trade)
        app.market.actor("lin", PASSPHRASE).send_message("bob", "Bike is [b]perfect[/b]")
        app.market.actor("bob", PASSPHRASE).send_message("lin", "See you Sunday")
        await _act(pilot, "i")
        modal = app.screen
        assert isinstance(modal, DisputeModal)
        await _act(pilot, "enter")  # no reason yet: refused, nothing changes
        assert app.screen.current.status == "paid"
        await _act(pilot, "i")
        await pilot.press(*"Chain is rusted", "tab")
        await _act(pilot, "space")  # the first line: lin's
        await pilot.click("#dispute-open")
        await settle(pilot)
        assert app.screen.current.status == "disputed"
        assert "T" in footer_keys(app)  # bob may add a statement too

        # A member is told the queue is for mediators.
        app.action_goto("mediation")
        await settle(pilot)
        assert "for mediators" in str(app.screen.query_one("#mediation-note").render())
        assert app.screen.query_one("#disputes").row_count == 0  # nothing foreign shown

        _as(app, "lin")
        app.open(OrdersScreen(focus_order=order_id))
        await settle(pilot)
        await _act(pilot, "T")
        app.screen.query_one(Input).value = "It was fine when he rode it away"
        await _act(pilot, "enter")
        assert "T" not in footer_keys(app)  # one statement per side
        # Each party reads the case on the order's pane, as the mediator will.
        case = " ".join(str(app.screen.query_one("#order-case").render()).split())
        assert "Reason: Chain is rusted" in case and "@lin: Bike is [b]perfect[/b]" in case
        assert "Statement of @lin (seller): It was fine when he rode it away" in case
        assert "Statement of @bob (buyer): none" in case
        assert "Statements until 2026-11-03 09:00 UTC (in 2d 0h)" in case

        _as(app, "mei")
        app.action_goto("mediation")
        await settle(pilot)
        assert isinstance(app.screen, MediationScreen)
        assert cells(app.screen.query_one("#disputes"))[0][0] == str(order_id)
        case = " ".join(str(app.screen.query_one("#order-case").render()).split())
        assert "opened by @bob" in case and "Reason: Chain is rusted" in case
        assert "@lin: Bike is [b]perfect[/b]" in case and "See you Sunday" not in case
        assert "Statement of @lin (seller): It was fine when he rode it away" in case
        assert "Statement of @bob (buyer): none" in case and "Credit: @bob transaction" in case
        await _act(pilot, "v")
        form = app.screen
        assert isinstance(form, DecisionForm)
        assert _shares(form) == "Buyer gets ¥0.00, seller gets ¥120.00."
        form.query_one(RadioSet).action_next_button()
        form.query_one(RadioSet).action_next_button()
        await pilot.press("enter")  # split
        await settle(pilot)
        assert _shares(form) == "Type the seller's share in yuan; the buyer gets the rest."
        form.query_one("#decision-amount", Input).value = "130"
        await settle(pilot)
        assert _shares(form) == "A split gives the seller more than 0 and less than ¥120.00."
        form.query_one("#decision-amount", Input).value = "40"
        await settle(pilot)
        assert _shares(form) == "Buyer gets ¥80.00, seller gets ¥40.00."
        await pilot.click("#decision-decide")
        await settle(pilot)
        assert app.screen.query_one("#disputes").row_count == 0
    with store.read() as s:
        assert ledger.balance(s, trade.seller.id) == 4_000
        assert ledger.balance(s, trade.buyer.id) == 100_000 - 4_000


def _shares(form: DecisionForm) -> str:
    return " ".join(str(form.query_one("#decision-shares").render()).split())


def footer_keys(app: MarketApp) -> set[str]:
    return {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}


async def test_a_message_sent_in_one_app_appears_in_the_other_within_a_second(
    store, config, clock, monkeypatch
):
    from p2pmarket.tui.app import POLL_EVERY
    from p2pmarket.tui.screens.chat import ChatScreen

    make_user(store, clock, "bob", verified=True)
    make_user(store, clock, "lin", verified=True)
    line = "is the bike still there? [bold]"
    ready, sent = asyncio.Event(), asyncio.Event()
    seen: dict[str, int] = {}
    # Counted in the reader's store polls, not wall time: a busy CPU delays both apps alike.
    polls: dict[int, int] = {}
    poll = MarketApp._poll_store

    def counted(app: MarketApp) -> None:
        polls[id(app)] = polls.get(id(app), 0) + 1
        poll(app)

    monkeypatch.setattr(MarketApp, "_poll_store", counted)

    # Each app runs in its own task, as two terminals would: Textual's active app is per task.
    async def reader() -> None:
        app = MarketApp(config=config, clock=clock, user="lin")
        async with app.run_test(size=SIZE) as pilot:
            app.open(ChatScreen(with_handle="bob"))
            await settle(pilot)
            ready.set()
            await sent.wait()
            started = polls.get(id(app), 0)
            log = app.screen.query_one("#chat-log", RichLog)
            for _ in range(200):  # at most ~10 s; no key pressed in this app
                await pilot.pause(0.05)
                if any(line in strip.text for strip in log.lines):
                    seen["polls"] = polls[id(app)] - started
                    break

    async def writer() -> None:
        app = MarketApp(config=config, clock=clock, user="bob")
        async with app.run_test(size=SIZE) as pilot:
            app.open(ChatScreen(with_handle="lin"))
            await settle(pilot)
            await ready.wait()
            await pilot.press(*line, "enter")
            await settle(pilot)
            sent.set()

    await asyncio.gather(asyncio.create_task(reader()), asyncio.create_task(writer()))
    assert "polls" in seen, "the line never appeared in the other app"
    assert seen["polls"] * POLL_EVERY <= 1.0, seen


@pytest.mark.sqlite_only
async def test_credit_screen_verifies_exports_and_backs_up(store, config, clock):
    Trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "verified" in str(app.screen.query_one("#records-status").render().plain)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
    assert list(config.home.glob("history-bob-*.json"))
    assert list(config.backup_dir.glob("*-tui.db"))


async def test_editor_band_follows_the_title_and_the_condition(store, config, clock):
    lin = make_user(store, clock, "lin", verified=True)
    for price in (9_000, 10_000, 11_000, 12_000):
        make_listing(
            store,
            clock,
            lin,
            kind=Kind.goods,
            title="Brass metronome",
            category="musical-instruments",
            unit=Unit.item,
            price=price,
        )
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        editor = app.screen
        editor.query_one("#kind").value = "goods"
        editor.query_one("#category").value = "musical-instruments"
        editor.query_one("#unit").value = "item"
        editor.query_one("#price", Input).value = "300"
        editor.query_one("#title", Input).value = "Metronome"
        await settle(pilot)
        band = editor.query_one("#band")
        shown = " ".join(str(band.render()).split())
        assert band.verdict == "high", shown
        assert "against 4 similar 'metronome' listings within 3 km" in shown
        good = band.suggestion.p50
        editor.query_one("#condition").value = "for_parts"
        await settle(pilot)
        assert band.suggestion.p50 == round(good * 0.35)
        assert "for parts: ×0.35 by default" in " ".join(str(band.render()).split())
        # A title like nothing listed: no verdict, and the band says why.
        editor.query_one("#title", Input).value = "Theremin"
        await settle(pilot)
        shown = " ".join(str(band.render()).split())
        assert band.verdict is None and "no similar 'theremin' items yet" in shown
