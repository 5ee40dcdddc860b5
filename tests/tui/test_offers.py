"""Offers through the screens: made from a listing, answered in the chat where the seller
sees it (accept, counter, decline), then paid with the second confirmation."""

from __future__ import annotations

import pytest
from textual.widgets import Input, RichLog, TabbedContent
from textual.widgets._footer import FooterKey

from p2pmarket.market import Market
from p2pmarket.models import ChatMode, User
from p2pmarket.services.trust import chat
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.screens.orders import OrdersScreen
from p2pmarket.tui.widgets.ask import AskModal
from p2pmarket.tui.widgets.confirm import ConfirmModal
from p2pmarket.tui.widgets.offer import AnswerOffer, OfferForm
from p2pmarket.tui.widgets.payment import PaymentModal
from tests.tui.helpers import PASSPHRASE, SIZE, Trade, cells, press, settle


def _trade(store, clock) -> Trade:
    trade = Trade(store, clock)
    with store.write() as s:
        bob, lin = s.get(User, trade.buyer.id), s.get(User, trade.seller.id)
        chat.set_mode(s, clock, bob, lin, ChatMode.trade)
    return trade


def _as(app: MarketApp, handle: str) -> None:
    signer = app.market.actor(handle, PASSPHRASE)
    app.log_in(signer.user, signer)


def _log(app) -> str:
    """What the chat log reads, its lines joined: a sentence wraps at the pane's width."""
    lines = app.screen.query_one("#chat-log", RichLog).lines
    return " ".join(" ".join(str(line.text) for line in lines).split())


async def _offer_from_listing(app, pilot, trade, price: str, qty: str = "1", note: str = ""):
    app.open(ListingScreen(trade.listing.id))
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    form = app.screen
    assert isinstance(form, OfferForm)
    form.query_one("#qty", Input).value = qty
    form.query_one("#note", Input).value = note
    form.query_one("#price", Input).value = price
    await pilot.press("enter")
    await settle(pilot)


async def _answer(app, pilot, button: str, price: str = "") -> None:
    await pilot.press("ctrl+f")
    await settle(pilot)
    assert isinstance(app.screen, AnswerOffer)
    app.screen.query_one("#counter-price", Input).value = price
    await press(pilot, f"#{button}")


async def test_offer_from_a_listing_accepted_in_chat_then_paid(store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        _as(app, "bob")
        await _offer_from_listing(app, pilot, trade, "100", note="[b]today?[/b]")
        # The offer opens the conversation, where it is a line of its own with its state.
        assert isinstance(app.screen, ChatScreen) and app.screen.other == "lin"
        [made] = app.actor.list_offers()
        assert (made.status, made.unit_price, made.quantity, made.note) == (
            "open",
            100_00,
            1,
            "[b]today?[/b]",
        )
        log = _log(app)
        assert "(offer) bob offers ¥100.00 × 1" in log and "[open, 2d 0h left]" in log
        assert "[b]today?[/b]" in log  # a note is text, never markup
        assert "p2pmarket" not in log
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert not isinstance(app.screen, AnswerOffer), "bob's own offer is not his to answer"

        # The seller sees it in the chat and accepts: an order at the offer's price.
        _as(app, "lin")
        app.open(ChatScreen(with_handle="bob"))
        await settle(pilot)
        await _answer(app, pilot, "accept")
        done = app.actor.offer(made.id)
        assert done.status == "accepted" and done.order_id is not None
        assert f"[accepted: order #{done.order_id}]" in _log(app)
        assert f"Pay with ctrl+y in this chat, or y on Orders (#{done.order_id})" in _log(app)
        order = app.actor.order(done.order_id)
        assert (order.status, order.amount) == ("accepted", 100_00)

        # The buyer pays it from the chat, through the second confirmation.
        _as(app, "bob")
        app.open(ChatScreen(with_handle="lin"))
        await settle(pilot)
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert isinstance(app.screen, PaymentModal)
        assert app.screen.preview.amount == 100_00
        app.screen.query_one("#pay-passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await settle(pilot)
        assert app.actor.order(done.order_id).status == "paid"


async def test_counter_then_decline_in_chat(store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        _as(app, "bob")
        await _offer_from_listing(app, pilot, trade, "80", qty="2")
        _as(app, "lin")
        app.open(ChatScreen(with_handle="bob"))
        await settle(pilot)
        # No price: it asks for one. (2 × ¥90 stays under bob's ¥200 limit for a stranger.)
        await _answer(app, pilot, "counter", price="")
        assert isinstance(app.screen, AnswerOffer)
        app.screen.query_one("#counter-price", Input).value = "90"
        await press(pilot, "#counter")
        first, counter = sorted(app.actor.list_offers(), key=lambda o: o.id)
        assert (first.status, counter.status, counter.by, counter.unit_price, counter.quantity) == (
            "countered",
            "open",
            "lin",
            90_00,
            2,
        )
        assert "[countered]" in _log(app)

        _as(app, "bob")
        app.open(ChatScreen(with_handle="lin"))
        await settle(pilot)
        await _answer(app, pilot, "decline")
        assert app.actor.offer(counter.id).status == "declined"
        assert "lin counters offer" in _log(app) and "[declined]" in _log(app)
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)  # nothing left to answer

        # ctrl+f on one's own open offer withdraws it, after asking.
        await _offer_from_listing(app, pilot, trade, "70")
        mine = max(app.actor.list_offers(), key=lambda o: o.id)
        await pilot.press("ctrl+f")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "#confirm-yes")
        assert app.actor.offer(mine.id).status == "withdrawn"
        assert "bob withdrew offer" in _log(app)


async def test_a_refused_offer_is_a_notification_and_changes_nothing(store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        _as(app, "bob")
        # A typo keeps the form open with what was typed, the focus back on the price.
        await _offer_from_listing(app, pilot, trade, "abc", note="after six?")
        assert isinstance(app.screen, OfferForm)
        assert app.screen.query_one("#note", Input).value == "after six?"
        assert app.focused is app.screen.query_one("#price", Input)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ListingScreen)
        await _offer_from_listing(app, pilot, trade, "100", qty="9")
        assert isinstance(app.screen, ListingScreen)
        notes = [str(n.message) for n in app._notifications]
        assert any("not a plain amount" in n for n in notes), notes
        assert any("has 2 left" in n for n in notes), notes
        assert app.actor.list_offers() == []


def test_offer_form_snapshot(snap_compare, store, config, clock):
    trade = _trade(store, clock)

    async def run_before(pilot) -> None:
        pilot.app.open(ListingScreen(trade.listing.id))
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    app = MarketApp(config=config, clock=clock, user="bob")
    assert snap_compare(app, run_before=run_before, terminal_size=(80, 24))


def _answer_before(trade: Trade):
    """Bob offers on Lin's bike; Lin opens their chat and answers (ctrl+f)."""

    async def run_before(pilot) -> None:
        app = pilot.app
        bob = app.market.actor("bob", PASSPHRASE)
        bob.make_offer(trade.listing.id, 100_00, 2, "Could I pick both up tonight?")
        _as(app, "lin")
        app.open(ChatScreen(with_handle="bob"))
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)

    return run_before


def test_answer_offer_snapshot_80x24(snap_compare, store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    assert snap_compare(app, run_before=_answer_before(trade), terminal_size=(80, 24))


def test_answer_offer_snapshot_120x36(snap_compare, store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    assert snap_compare(app, run_before=_answer_before(trade), terminal_size=(120, 36))


async def _offers_tab(app, pilot) -> list[list[str]]:
    """Orders, then its Offers tab: the rows of the offers table."""
    app.open(OrdersScreen())
    await settle(pilot)
    app.screen.query_one(TabbedContent).active = "tab-offers"
    await settle(pilot)
    return cells(app.screen.query_one("#offers"))


async def test_offers_tab_counters_in_a_modal_and_the_counter_is_accepted(store, config, clock):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        made = app.market.actor("bob", PASSPHRASE).make_offer(trade.listing.id, 80_00, 2)
        _as(app, "lin")
        rows = await _offers_tab(app, pilot)
        assert rows == [
            [
                str(made.id),
                "City bike, barely…",
                "selling",
                "@bob",
                "¥80.00 × 2",
                "open, 2d 0h left",
            ]
        ]
        assert app.screen.focused is app.screen.query_one("#offers")
        keys = {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}
        assert {"a", "x", "n"} <= keys and "W" not in keys  # lin may answer, not withdraw
        # Help first, as on every screen: the pane's own keys follow it.
        shown = [str(k.key_display) for k in app.screen.query(FooterKey)]
        assert shown[:4] == ["?", "a", "x", "n"], shown
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, AskModal)
        app.screen.query_one(Input).value = "90"
        await pilot.press("enter")
        await settle(pilot)
        first, counter = sorted(app.actor.list_offers(), key=lambda o: o.id)
        assert (first.status, counter.status, counter.by, counter.unit_price) == (
            "countered",
            "open",
            "lin",
            90_00,
        )
        assert cells(app.screen.query_one("#offers"))[0][:5] == [
            str(counter.id),
            "City bike, barely…",
            "selling",
            "@bob",
            "¥90.00 × 2",
        ]

        # Bob accepts lin's counter from his own offers tab, asked once.
        _as(app, "bob")
        rows = await _offers_tab(app, pilot)
        assert [r[:3] for r in rows] == [[str(counter.id), "City bike, barely…", "buying"]]
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "#confirm-yes")
        done = app.actor.offer(counter.id)
        assert done.status == "accepted"
        order = app.actor.order(done.order_id)
        assert (order.status, order.amount, order.quantity) == ("accepted", 180_00, 2)
        # The order it became is shown on the Buying tab, ready to pay; no offer is open.
        assert app.screen.query_one(TabbedContent).active == "tab-buying"
        assert app.screen.current.id == done.order_id
        assert cells(app.screen.query_one("#offers")) == []


@pytest.mark.parametrize("step", ["decline", "withdraw"])
async def test_offers_tab_declines_and_withdraws(store, config, clock, step):
    trade = _trade(store, clock)
    app = MarketApp(config=config, clock=clock, user="lin")
    async with app.run_test(size=SIZE) as pilot:
        made = app.market.actor("bob", PASSPHRASE).make_offer(trade.listing.id, 80_00)
        _as(app, "lin" if step == "decline" else "bob")
        await _offers_tab(app, pilot)
        await pilot.press("x" if step == "decline" else "W")
        await settle(pilot)
        assert app.actor.offer(made.id).status == ("declined" if step == "decline" else "withdrawn")
        assert cells(app.screen.query_one("#offers")) == []
        notes = [str(n.message) for n in app._notifications]
        assert any(f"Offer #{made.id} {app.actor.offer(made.id).status}." in n for n in notes)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_offers_tab_snapshot(snap_compare, store, config, clock, size):
    trade = _trade(store, clock)

    async def run_before(pilot) -> None:
        bob = pilot.app.market.actor("bob", PASSPHRASE)
        bob.make_offer(trade.listing.id, 100_00, 2, "Could I pick both up tonight?")
        clock.advance(3600)
        _as(pilot.app, "lin")
        await _offers_tab(pilot.app, pilot)

    app = MarketApp(config=config, clock=clock, user="lin")
    assert snap_compare(app, run_before=run_before, terminal_size=size)


async def test_the_listing_says_price_firm_or_offers_welcome_and_its_seller_the_floor(
    store, config, clock
):
    trade = _trade(store, clock)
    lin = Market(store, clock).actor("lin", PASSPHRASE)
    lin.set_offer_policy(trade.listing.id, floor=90_00)
    app = MarketApp(config=config, clock=clock, user="bob")

    async def head() -> str:
        app.open(ListingScreen(trade.listing.id))
        await settle(pilot)
        return str(app.screen.query_one("#listing-head").content)

    async with app.run_test(size=SIZE) as pilot:
        _as(app, "bob")
        shown = await head()
        assert shown.endswith("\nOffers welcome (n).") and "declined" not in shown
        _as(app, "lin")
        assert "offers below ¥90.00 are declined automatically" in await head()
        assert app.screen.query_one("#offer").disabled  # no offers on your own listing
        lin.set_offer_policy(trade.listing.id, firm=True)
        _as(app, "bob")
        assert "Price firm: no offers." in await head()
        assert app.screen.query_one("#offer").disabled
        keys = {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}
        assert "n" not in keys and "b" in keys
