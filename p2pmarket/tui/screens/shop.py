"""My shop: the logged-in user's listings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from p2pmarket import money
from p2pmarket.services import shops


class ShopScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="shop-summary")
        yield DataTable(id="shop-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        user = self.app.user
        with self.app.store.read() as session:
            listings = shops.list_listings(session, seller=user.handle, limit=1000)
        self.query_one("#shop-summary", Static).update(
            Content(f"My shop — @{user.handle} · {len(listings)} listings")
        )
        table = self.query_one("#shop-table", DataTable)
        table.add_columns("#", "title", "kind", "price", "qty", "status")
        for v in listings:
            table.add_row(
                str(v.id),
                Content(v.title),
                v.kind,
                f"{money.fmt(v.price)}/{v.unit}",
                str(v.quantity),
                v.status,
                key=str(v.id),
            )
