"""Hostile text in titles, names and chat shows literally: no crash, no action fired."""

from __future__ import annotations

from textual import events
from textual.widgets import Input, RichLog

from p2pmarket import text
from p2pmarket.config import Settings
from p2pmarket.models import Kind, Unit, User
from p2pmarket.services.trust import chat, privacy
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.chat import ChatScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.widgets.text_input import TextInput
from tests.conftest import make_listing, make_user
from tests.tui.helpers import SIZE, cells, settle

HOSTILE = (
    "[@click=app.quit]Free bike",
    "[bold]loud[/bold] and [/] unbalanced",
    "\x1b]0;pwned\x07 window title \x1b[2J",
    "[link=https://evil.example]click[/link] \u202eevil\u202c",
    "[on red]$accent[/] \x9b31m C1 \x00 NUL",
)


def _market(store, clock):
    seller = make_user(store, clock, "mallory", verified=True, name="[@click=app.quit]Mal [/]")
    buyer = make_user(store, clock, "bob", verified=True)
    with store.write() as s:
        privacy.set_fact(s, s.get(User, seller.id), "real_name", True)
    listings = [
        make_listing(
            store,
            clock,
            seller,
            kind=Kind.goods,
            title=f"bike {title}",
            description=title,
            category="bicycles",
            unit=Unit.item,
            price=5000 + i,
        )
        for i, title in enumerate(HOSTILE)
    ]
    with store.write() as s:
        for body in HOSTILE:
            chat.send(
                s, clock, s.get(User, seller.id), s.get(User, buyer.id), body, settings=Settings()
            )
    return seller, buyer, listings


def _literal(raw: str) -> str:
    return text.clean(raw, field="title", max_len=500)


async def test_hostile_titles_names_and_chat_render_literally(store, config, clock):
    _seller, _buyer, listings = _market(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", *"bike")
        await settle(pilot)
        rows = cells(app.screen.query_one("#results"))
        titles = {row[0] for row in rows}
        assert {str(line(f"bike {_literal(t)}", 32)) for t in HOSTILE} <= titles
        # Clicking a hostile row opens the listing; nothing quits.
        await pilot.click("#results", offset=(10, 1))
        await pilot.press("enter")
        await settle(pilot)
        for listing in listings:
            app.open(ListingScreen(listing.id))
            await settle(pilot)
            head = str(app.screen.query_one("#listing-head").render())
            assert _literal(listing.title)[:30] in head
            screen_text = app.export_screenshot().replace("&#160;", " ")
            assert "[@click=app.quit]Mal [/]" in screen_text  # the published real name
            assert app.is_running
            app.action_back()
            await settle(pilot)
        app.open(ChatScreen(with_handle="mallory"))
        await settle(pilot)
        log = app.screen.query_one("#chat-log", RichLog)
        shown = "\n".join(strip.text for strip in log.lines)
        for body in HOSTILE:
            assert _literal(body)[:20] in shown
        assert "\x1b" not in shown and "\x9b" not in shown
        # The list of conversations carries the last line, literally.
        assert cells(app.screen.query_one("#conversations"))[0][0] == "@mallory"
        await pilot.press(*"[@click=app.quit]reply [/]", "enter")
        await settle(pilot)
        shown = "\n".join(strip.text for strip in log.lines)
        assert "[@click=app.quit]reply [/]" in shown
        assert app.is_running and app.return_code is None


async def test_hostile_text_in_the_seller_home_and_orders(store, config, clock):
    _market(store, clock)
    app = MarketApp(config=config, clock=clock, user="mallory")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [row[1] for row in cells(app.screen.query_one("#shop-table"))]
        assert f"bike {_literal(HOSTILE[0])}" in titles
        notices = str(app.screen.query_one("#notices").render())
        assert "@bob" not in notices  # mallory sent, bob did not
        await pilot.press("o")
        await settle(pilot)
        assert app.is_running and app.return_code is None


async def test_pasted_control_characters_are_dropped_from_every_input(store, config, clock):
    """A clipboard can hold escapes and bidi overrides; the search box keeps only the text,
    and the search it starts finds what the visible words find."""
    _market(store, clock)
    app = MarketApp(config=config, clock=clock, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        box = app.screen.query_one("#q", Input)
        assert isinstance(box, TextInput) and app.focused is box
        box.post_message(events.Paste("bi\x1b[2J\u202eke\x9b\x7f\x00"))
        await settle(pilot)
        assert box.value == "bi[2Jke"
        for other in app.screen.query(Input):
            assert isinstance(other, TextInput), other.id
        box.value = ""
        box.post_message(events.Paste("\u2066bike\u2069\x1b"))
        await settle(pilot)
        assert box.value == "bike"
        assert len(cells(app.screen.query_one("#results"))) == len(HOSTILE)
