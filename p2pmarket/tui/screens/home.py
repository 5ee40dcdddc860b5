"""Home: my shop, my wallet, and what needs me now (orders, unread chats, deadlines)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static

from p2pmarket import money
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.table import MarketTable


class HomeScreen(MarketScreen):
    NAME = "Home"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("a", "add_listing", "Add listing"),
        Binding("e", "edit_listing", "Edit"),
        Binding("z", "pause_listing", "Pause/resume"),
        Binding("x", "remove_listing", "Remove", show=False),
        Binding("w", "top_up", "Top up"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-top"):
            yield Static("", id="wallet", classes="card")
            yield Static("", id="notices", classes="card")
        with Vertical(id="home-body"):
            yield Static("", id="shop-summary", classes="section-title")
            yield MarketTable(id="shop-table")
            yield Static("Orders", id="orders-summary", classes="section-title")
            yield MarketTable(id="home-orders")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#shop-table", DataTable).add_columns(
            "#", "title", "kind", "price", "qty", "status"
        )
        self.query_one("#home-orders", DataTable).add_columns(
            "#", "title", "with", "amount", "status", "your move"
        )

    def reload(self) -> None:
        # Services (and SQLAlchemy under them) load after the first frame; see tui/app.py.
        from p2pmarket.services import attention, chat, ledger, shops

        user = self.market.user
        now = self.market.clock.now()
        with self.read() as session:
            me = self.me(session)
            listings = shops.list_listings(session, seller=user.handle, limit=1000)
            balance = ledger.balance(session, me.id)
            waiting = attention.my_open_orders(session, me)
            unread = [c for c in chat.list_conversations(session, me, limit=50) if c.unread]
        live = [v for v in listings if v.status != "removed"]
        self.query_one("#shop-summary", Static).update(
            line(f"My shop — @{user.handle} · {len(live)} listings")
        )
        self.query_one("#shop-table", MarketTable).refill(
            [
                (
                    v.id,
                    (
                        str(v.id),
                        line(v.title, 60),
                        v.kind,
                        f"{money.fmt(v.price)}/{v.unit}",
                        str(v.quantity),
                        v.status,
                    ),
                )
                for v in live
            ]
        )
        self.query_one("#home-orders", MarketTable).refill(
            [
                (
                    w.order.id,
                    (
                        str(w.order.id),
                        line(w.order.title, 40),
                        line(
                            "@"
                            + (w.order.seller if w.order.buyer == user.handle else w.order.buyer)
                        ),
                        money.fmt(w.order.amount),
                        w.order.status,
                        ", ".join(w.steps) or "—",
                    ),
                )
                for w in waiting
            ]
        )
        needs = sum(1 for w in waiting if w.steps)
        self.query_one("#orders-summary", Static).update(
            f"Open orders — {needs} waiting on you (enter opens)"
        )
        wallet = Text()
        wallet.append("Wallet\n", style="bold")
        wallet.append(money.fmt(balance), style="bold green" if balance else "bold")
        wallet.append("\nw: top up", style="dim")
        self.query_one("#wallet", Static).update(wallet)
        notes = Text()
        notes.append("Notifications\n", style="bold")
        if unread:
            total = sum(c.unread for c in unread)
            notes.append(f"{total} unread message{'s' * (total != 1)} from ")
            notes.append(", ".join(f"@{c.other}" for c in unread[:4]))
            notes.append("\n")
        for d in attention.deadlines([w.order for w in waiting], now)[:4]:
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

    def action_edit_listing(self) -> None:
        from p2pmarket.tui.screens.editor import EditorScreen

        listing_id = self._selected_listing()
        if listing_id is not None:
            self.market.open(EditorScreen(listing_id))

    @on(DataTable.RowSelected, "#shop-table")
    def _open_listing(self) -> None:
        self.action_edit_listing()

    def _move(self, move: str) -> None:
        from p2pmarket.services import shops

        listing_id = self._selected_listing()
        if listing_id is None:
            return

        def change():
            with self.write() as session:
                return shops.change_status(
                    session, self.market.clock, self.me(session), listing_id, move
                )

        view = self.attempt(change)
        if view is not None:
            self.market.tell(f"Listing #{view.id} is now {view.status}.")
            self.reload()

    def action_pause_listing(self) -> None:
        from p2pmarket.services import shops

        listing_id = self._selected_listing()
        if listing_id is None:
            return
        with self.read() as session:
            status = shops.get_listing(session, listing_id).status
        self._move("resume" if status == "paused" else "pause")

    def action_remove_listing(self) -> None:
        self._move("remove")

    # -- wallet and orders -----------------------------------------------------------------

    def action_top_up(self) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def done(value: str | None) -> None:
            if not value:
                return

            def topup():
                from p2pmarket.services import ledger

                amount = money.parse(value)
                with self.write() as session:
                    me = self.me(session)
                    key = f"tui:topup:{me.id}:{uuid.uuid4().hex}"
                    return ledger.topup(session, self.market.clock, me.id, amount, key)

            if self.attempt(topup) is not None:
                self.market.tell("Wallet topped up.")
                self.reload()

        self.app.push_screen(AskModal("Top up your wallet by (yuan):", placeholder="100"), done)

    @on(DataTable.RowSelected, "#home-orders")
    def _open_order(self, event: DataTable.RowSelected) -> None:
        from p2pmarket.tui.screens.orders import OrdersScreen

        self.market.open(OrdersScreen(focus_order=int(event.row_key.value)))
