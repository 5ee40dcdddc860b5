"""Inbox: what needs me (messages, offers, order changes, deadlines, reminders, saved-search
hits, price drops and sales); enter opens the order, conversation or listing and reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.trust.inbox import ItemView

# What each kind of item is called in its column.
KINDS = {
    "message": "message",
    "offer": "offer",
    "order": "order",
    "deadline": "deadline",
    "reminder": "reminder",
    "search": "search hit",
    "price_drop": "price drop",
    "sold": "sold",
}


class InboxScreen(MarketScreen):
    NAME = "Inbox"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("a", "read_all", "Mark all read"),
        Binding("v", "saved_searches", "Saved searches"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[int, ItemView] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield SteadyStatic("", id="inbox-summary", classes="section-title")
        yield MarketTable(id="inbox")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.query_one("#inbox", DataTable).add_columns("", "when", "kind", "what")
        self.query_one("#inbox", DataTable).focus()

    def reload(self) -> None:
        box = self.attempt(self.actor.inbox)
        if box is None:
            return
        self._items = {i.id: i for i in box.items}
        self.query_one("#inbox-summary", Static).update(
            f"Inbox — {box.unread} unread · enter opens · a: mark all read · v: saved searches"
            if box.items
            else "Inbox — nothing yet: messages, offers, order changes, deadlines, reminders, "
            "saved-search hits and price drops come here."
        )
        self.query_one("#inbox", MarketTable).refill(
            [
                (
                    i.id,
                    (
                        Text("●" if not i.read else " ", style="bold"),
                        self.market.wall(i.at)[5:],
                        KINDS.get(i.kind, i.kind),
                        line(i.text, 140) if i.read else Text(line(i.text, 140).plain, "bold"),
                    ),
                )
                for i in box.items
            ]
        )

    @on(DataTable.RowSelected, "#inbox")
    def action_open(self) -> None:
        item = self._items.get(self.query_one("#inbox", MarketTable).selected_key() or 0)
        if item is None:
            return
        if not item.read and self.attempt(lambda: self.actor.read_item(item.id)) is None:
            return
        self.market.open(_screen_for(item))

    def action_read_all(self) -> None:
        count = self.attempt(self.actor.read_all_items)
        if count is not None:
            self.market.tell(f"Marked {count} items read." if count else "Nothing was unread.")
            self.reload()

    def action_saved_searches(self) -> None:
        """My saved searches: run one on the Search screen, or delete one."""
        from p2pmarket.tui.screens.search import SearchScreen
        from p2pmarket.tui.widgets.saved_searches import choose_saved

        choose_saved(self, lambda name: self.market.open(SearchScreen(saved=name)))


def _screen_for(item: ItemView) -> MarketScreen:
    """What opening an item shows: its order, its conversation or its listing."""
    from p2pmarket.tui.screens.chat import ChatScreen
    from p2pmarket.tui.screens.listing import ListingScreen
    from p2pmarket.tui.screens.orders import OrdersScreen

    if item.ref_kind == "order":
        return OrdersScreen(focus_order=item.ref_id)
    if item.ref_kind == "listing":
        return ListingScreen(item.ref_id)
    return ChatScreen(with_handle=item.other)
