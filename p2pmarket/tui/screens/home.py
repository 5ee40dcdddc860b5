"""Home: my shop, my wallet, and what needs me now (orders, unread chats, deadlines)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Static

from p2pmarket import money
from p2pmarket.tui.plain import line, said
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:  # the store's modules load after the first frame (see tui/app.py)
    from p2pmarket.services.market.shops import ListingView


class HomeScreen(MarketScreen):
    NAME = "Home"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("a", "add_listing", "Add listing"),
        Binding("e", "edit_listing", "Edit"),
        Binding("z", "pause_listing", "Pause/resume"),
        Binding("b", "listing_hours", "Hours", show=False),
        Binding("x", "remove_listing", "Remove", show=False),
        Binding("w", "top_up", "Top up"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-top"):
            yield SteadyStatic("", id="wallet", classes="card")
            yield SteadyStatic("", id="notices", classes="card")
        with Vertical(id="home-body"):
            yield SteadyStatic("", id="shop-summary", classes="section-title")
            yield MarketTable(id="shop-table")
            yield SteadyStatic("Orders", id="orders-summary", classes="section-title")
            yield MarketTable(id="home-orders")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.query_one("#shop-table", DataTable).add_columns(
            "#", "title", "kind", "price", "qty", "status"
        )
        self.query_one("#home-orders", DataTable).add_columns(
            "#", "title", "your move", "status", "amount", "with"
        )

    def reload(self) -> None:
        home = self.actor.home()
        handle = self.market.user.handle
        self.query_one("#shop-summary", Static).update(
            line(f"My shop — @{handle} · {len(home.shop)} listings")
        )
        self.query_one("#shop-table", MarketTable).refill(
            [
                (
                    v.id,
                    (
                        str(v.id),
                        line(v.title, 34),
                        v.kind,
                        f"{money.fmt(v.price)}/{v.unit}",
                        str(v.quantity),
                        said(v.status),
                    ),
                )
                for v in home.shop
            ]
        )
        self.query_one("#home-orders", MarketTable).refill(
            [
                (
                    w.order.id,
                    (
                        str(w.order.id),
                        line(w.order.title, 30),
                        ", ".join(map(said, w.steps)) or "—",
                        said(w.order.status),
                        money.fmt(w.order.amount),
                        line("@" + (w.order.seller if w.order.buyer == handle else w.order.buyer)),
                    ),
                )
                for w in home.orders
            ]
        )
        self.query_one("#orders-summary", Static).update(
            f"Open orders — {len(home.orders)}, {home.waiting_on_me} waiting on you (enter opens)"
        )
        wallet = Text()
        wallet.append("Wallet\n", style="bold")
        wallet.append(money.fmt(home.balance), style="bold green" if home.balance else "bold")
        wallet.append("\nw: top up", style="dim")
        self.query_one("#wallet", Static).update(wallet)
        notes = Text()
        notes.append("Notifications\n", style="bold")
        if home.inbox_unread:
            notes.append(f"Inbox: {home.inbox_unread} unread (l opens it)\n", style="bold")
        if home.unread:
            total = home.unread_messages
            notes.append(f"{total} unread message{'s' * (total != 1)} from ")
            notes.append(", ".join(f"@{c.other}" for c in home.unread[:4]))
            notes.append("\n")
        for r in home.reminders[:3]:
            notes.append(f"Reminder ({r.which}): order #{r.order_id} starts in {r.starts_in} — ")
            notes.append(line(r.title[:40]))
            notes.append("\n")
        for d in home.deadlines[:4]:
            notes.append(f"Order #{d.order_id} {d.timer}: {d.left} — ")
            notes.append(line(d.title[:40]))
            notes.append("\n")
        if len(notes.plain) <= len("Notifications\n"):
            notes.append("Nothing needs you right now.", style="dim")
        self.query_one("#notices", Static).update(notes)

    # -- shop ------------------------------------------------------------------------------

    def _selected_listing(self) -> int | None:
        return self.query_one("#shop-table", MarketTable).selected_key()

    def action_add_listing(self) -> None:
        from p2pmarket.tui.screens.editor import EditorScreen

        self.market.open(EditorScreen())

    def action_listing_hours(self) -> None:
        from p2pmarket.tui.screens.hours import HoursScreen

        listing_id = self._selected_listing()
        if listing_id is not None:
            self.market.open(HoursScreen(listing_id))

    def action_edit_listing(self) -> None:
        from p2pmarket.tui.screens.editor import EditorScreen

        listing_id = self._selected_listing()
        if listing_id is not None:
            self.market.open(EditorScreen(listing_id))

    @on(DataTable.RowSelected, "#shop-table")
    def _open_listing(self) -> None:
        self.action_edit_listing()

    def _change(self, change: Callable[[int], ListingView]) -> None:
        """Change the selected listing's status: `change(listing id)`."""
        listing_id = self._selected_listing()
        if listing_id is None:
            return
        view = self.attempt(lambda: change(listing_id))
        if view is not None:
            self.market.tell(f"Listing #{view.id} is now {said(view.status)}.")
            self.reload()

    def action_pause_listing(self) -> None:
        self._change(self.actor.pause_or_resume)

    def action_remove_listing(self) -> None:
        self._change(lambda listing_id: self.actor.move_listing(listing_id, "remove"))

    # -- wallet and orders -----------------------------------------------------------------

    def action_top_up(self) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def done(value: str | None) -> None:
            if not value:
                return

            def topup():
                # A new key per top-up typed: each is its own (keys are the person's own).
                return self.actor.topup(money.parse(value), f"tui:topup:{uuid.uuid4().hex}")

            if self.attempt(topup) is not None:
                self.market.tell("Wallet topped up.")
                self.reload()

        self.app.push_screen(AskModal("Top up your wallet by (yuan):", placeholder="100"), done)

    @on(DataTable.RowSelected, "#home-orders")
    def _open_order(self, event: DataTable.RowSelected) -> None:
        from p2pmarket.tui.screens.orders import OrdersScreen

        self.market.open(OrdersScreen(focus_order=int(event.row_key.value)))
