"""Contact tiers: how I classify others; the tier sets how much money can move between us."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Header, Input, Select, Static

from p2pmarket import money
from p2pmarket.market.trust import tier_limits
from p2pmarket.models import Tier
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable
from p2pmarket.tui.widgets.text_input import TextInput


class ContactsScreen(MarketScreen):
    NAME = "Contacts"
    # The list first: its keys (1/2/3/0) in the footer; tab reaches the handle field.
    AUTO_FOCUS = "#contacts"
    BINDINGS: ClassVar = [
        Binding("1", "tier('stranger')", "Stranger"),
        Binding("2", "tier('acquaintance')", "Acquaintance"),
        Binding("3", "tier('trusted')", "Trusted"),
        Binding("0", "tier('blocked')", "Block"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="contact-form"):
            yield TextInput(placeholder="handle", id="contact-handle")
            yield Select(
                [(t.value, t.value) for t in Tier],
                value="acquaintance",
                allow_blank=False,
                id="contact-tier",
            )
            yield Button("Set tier", variant="primary", id="contact-set")
        yield SteadyStatic("", id="tier-limits")
        yield MarketTable(id="contacts")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.query_one("#contacts", DataTable).add_columns(
            "#", "handle", "tier", "since", "last trade"
        )
        limits = " · ".join(
            f"{tier} {money.fmt(limit)}" for tier, limit in tier_limits(self.market.market).items()
        )
        self.query_one("#tier-limits", Static).update(
            f"Open money allowed per person, by tier: {limits}. Blocked: no messages, no money."
        )

    def reload(self) -> None:
        rows = self.actor.contacts()
        self._rows = rows
        self.query_one("#contacts", MarketTable).refill(
            [
                (
                    i,
                    (
                        str(i + 1),
                        line(f"@{r.handle}"),
                        r.tier,
                        self.market.wall(r.updated_at)[:10] if r.updated_at else "—",
                        line(r.last_trade.said(), 50) if r.last_trade else "—",
                    ),
                )
                for i, r in enumerate(rows)
            ]
        )

    def _set(self, handle: str, tier: str) -> None:
        done = self.attempt(lambda: self.actor.set_tier(handle, Tier(tier)))
        if done is not None:
            self.market.tell(f"@{done.handle} is now {done.tier} to you.")
            self.reload()

    @on(Button.Pressed, "#contact-set")
    @on(Input.Submitted, "#contact-handle")
    def _form(self) -> None:
        handle = self.query_one("#contact-handle", Input).value
        if handle.strip():
            self._set(handle, str(self.query_one("#contact-tier", Select).value))

    def action_tier(self, tier: str) -> None:
        index = self.query_one("#contacts", MarketTable).selected_key()
        if index is not None and index < len(self._rows):
            self._set(self._rows[index].handle, tier)
