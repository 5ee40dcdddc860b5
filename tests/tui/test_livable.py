"""#13: the paths a person walks in the app without the README — chat answers the
conversation on screen, a draft is never lost to a key, money asks for trade mode first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from textual.widgets import Input, RichLog, Select

from p2pmarket.clock import wall
from p2pmarket.models import User
from p2pmarket.services.trust import chat
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.editor import EditorScreen
from p2pmarket.tui.widgets.confirm import ConfirmModal
from tests.conftest import make_user
from tests.tui.helpers import SIZE, settle


def _log_text(app: MarketApp) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one("#chat-log", RichLog).lines)


async def test_chat_opens_on_the_latest_conversation_and_typing_answers_it(store, config, clock):
    bob = make_user(store, clock, "bob", verified=True)
    lin = make_user(store, clock, "lin", verified=True)
    with store.write() as s:
        chat.send(
            s,
            clock,
            s.get(User, lin.id),
            s.get(User, bob.id),
            "is it still there?",
            settings=config.settings,
        )
    app = MarketApp(config=config, clock=clock, user=bob.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.focused is app.screen.query_one("#chat-input")
        await pilot.press(*"yes, come by at six", "enter")
        await settle(pilot)
        assert "@bob: yes, come by at six" in _log_text(app)
        # At the market's wall clock, as its slots (Shanghai, 8 h ahead of UTC), not UTC's.
        now = clock.now()
        assert wall(now, config.settings.zone)[5:] in _log_text(app)
        assert datetime.fromtimestamp(now, UTC).strftime("%m-%d %H:%M") not in _log_text(app)
        # A handle that opens nothing keeps the conversation on screen.
        await pilot.press("ctrl+n", *"nobody_here", "enter")
        await settle(pilot)
        assert app.screen.other == "lin"
    with store.read() as s:
        shown = chat.show(
            s, clock, s.get(User, bob.id), s.get(User, lin.id), settings=config.settings
        )
    bodies = [m.body for m in shown.messages]
    assert bodies[-2:] == ["is it still there?", "yes, come by at six"]


async def test_in_chat_mode_money_keys_say_trade_mode_first(store, config, clock):
    bob = make_user(store, clock, "bob", verified=True)
    make_user(store, clock, "lin", verified=True)
    app = MarketApp(config=config, clock=clock, user=bob.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(ChatScreen(with_handle="lin"))
        await settle(pilot)
        for key in ("ctrl+r", "ctrl+y"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ChatScreen), f"{key} asked before refusing"
            said = [n.message for n in app._notifications]
            assert "press ctrl+o first" in said[-1]
        # In trade mode, a request with no amount typed says so (it did nothing, silently).
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert [n.message for n in app._notifications][-1] == "Type an amount, like 12 or 12.50."


async def test_a_screen_key_in_a_drop_down_does_not_lose_the_draft(store, config, clock):
    seller = make_user(store, clock, "lin", verified=True)
    app = MarketApp(config=config, clock=clock, user=seller.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(EditorScreen())
        await settle(pilot)
        await pilot.press(*"Road bike")
        app.screen.query_one("#category", Select).focus()
        await pilot.press("h", "s", "o")
        await settle(pilot)
        assert isinstance(app.screen, EditorScreen)
        assert app.screen.query_one("#title", Input).value == "Road bike"
        # Leaving with a draft asks; "Keep editing" keeps it, "Leave" leaves.
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.click("#confirm-no")
        await settle(pilot)
        assert app.screen.query_one("#title", Input).value == "Road bike"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#confirm-yes")
        await settle(pilot)
        assert not isinstance(app.screen, (EditorScreen, ConfirmModal))


async def test_an_untouched_editor_leaves_without_asking(store, config, clock):
    seller = make_user(store, clock, "lin", verified=True)
    app = MarketApp(config=config, clock=clock, user=seller.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(EditorScreen())
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, (EditorScreen, ConfirmModal))


async def test_the_app_names_its_own_keys_not_cli_commands(store, config, clock):
    bob = make_user(store, clock, "bob", verified=True)
    make_user(store, clock, "lin", verified=True)
    app = MarketApp(config=config, clock=clock, user=bob.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(ChatScreen(with_handle="lin"))
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        note = str(app.screen.query_one("#money-note").render())
    assert "press t for Contacts, choose @lin, then 2 Acquaintance" in " ".join(note.split())
    assert "p2pmarket" not in note


# Commands only the CLI has (the operator's and a script's); every other command a
# service names in a sentence has its keys in tui/remedies.py.
CLI_ONLY = (
    "p2pmarket init",
    "p2pmarket areas",
    "p2pmarket listing categories",
    "p2pmarket export",
    "p2pmarket load",
    "p2pmarket migrate",
    "p2pmarket reindex",
    "p2pmarket restore",
    "p2pmarket verify --accept",  # the operator accepting a damaged store, at a shell
)


def test_every_command_a_service_names_has_its_keys_in_the_app():
    from pathlib import Path

    import p2pmarket.services
    from p2pmarket.tui import remedies

    named = set()
    for source in Path(p2pmarket.services.__file__).parent.rglob("*.py"):
        for found in re.finditer(r"`(p2pmarket [a-z-]+(?: [a-z-]+)?)", source.read_text()):
            named.add(found[1])
    forms = " ".join(pattern.pattern.replace("\\", "") for pattern, _ in remedies._FORMS)
    missing = {c for c in named if not c.startswith(CLI_ONLY) and c not in forms}
    assert named and not missing, missing


async def test_the_orders_footer_offers_only_the_steps_that_apply_now(store, config, clock):
    from p2pmarket.services.money import orders
    from p2pmarket.tui.screens.orders import OrdersScreen
    from tests.conftest import make_listing

    bob = make_user(store, clock, "bob", verified=True)
    lin = make_user(store, clock, "lin", verified=True)
    listing = make_listing(store, clock, lin)
    with store.write() as s:
        made = orders.create_order(s, clock, s.get(User, bob.id), listing.id)
        orders.act(s, clock, config.settings, s.get(User, lin.id), made.id, "accept")

    def shown(app: MarketApp) -> set[str]:
        return {b.binding.description for b in app.screen.active_bindings.values()}

    app = MarketApp(config=config, clock=clock, user=bob.handle)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(OrdersScreen(focus_order=made.id))
        await settle(pilot)
        keys = shown(app)
        assert {"Pay", "Cancel order"} <= keys
        assert not keys & {"Accept", "Deliver", "Confirm", "Revoke", "Dispute", "Extend"}


async def test_ordering_an_hourly_skill_asks_how_many_and_says_the_total(store, config, clock):
    """#13 item 14: b asks the quantity (hours here); a bad one is one line, nothing made."""
    from sqlmodel import select

    from p2pmarket.models import Order
    from p2pmarket.tui.screens.listing import ListingScreen
    from p2pmarket.tui.widgets.ask import AskModal
    from tests.conftest import make_listing

    make_user(store, clock, "bob", verified=True)
    lin = make_user(store, clock, "lin", verified=True)
    listing = make_listing(store, clock, lin, price=28_000, quantity=5)  # ¥280 an hour
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open(ListingScreen(listing.id))
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, AskModal)
        question = str(app.screen.query_one("#ask-question").render())
        assert "how many (hours)?" in question and "¥280.00 per hour, 5 left" in question
        app.screen.query_one(Input).value = "9"
        await pilot.press("enter")
        await settle(pilot)
        with store.read() as s:
            assert s.exec(select(Order)).all() == []  # 9 > 5 left: refused, nothing made
        await pilot.press("b")
        await settle(pilot)
        app.screen.query_one(Input).value = "2"
        await pilot.press("enter")
        await settle(pilot)
        with store.read() as s:
            (order,) = s.exec(select(Order)).all()
        assert (order.quantity, order.amount) == (2, 56_000)
        told = [n.message for n in app._notifications]
        assert any("2 × ¥280.00 = ¥560.00" in m for m in told), told
