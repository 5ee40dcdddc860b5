"""My open offers, as buyer and as seller: each one's price, quantity and time left, and
the keys for what I may do with the highlighted one (accept, decline, counter, withdraw).

The pane only shows: a key posts `Chosen` and the screen makes the one Actor call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from p2pmarket import money
from p2pmarket.tui.plain import data, line
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.trust.offers import OfferView

# The keys, in the order the footer and the hint line show them.
KEYS = {"accept": "a", "decline": "x", "counter": "n", "withdraw": "W"}


class OffersPane(Vertical):
    DEFAULT_CSS = """
    OffersPane #offers { height: 1fr; }
    OffersPane #offer-detail { height: auto; padding: 0 1; border-top: solid $primary-muted; }
    """
    BINDINGS: ClassVar = [
        Binding("a", "choose('accept')", "Accept offer"),
        Binding("x", "choose('decline')", "Decline offer"),
        Binding("n", "choose('counter')", "Counter"),
        Binding("W", "choose('withdraw')", "Withdraw offer"),
    ]

    @dataclass
    class Chosen(Message):
        """A step on an offer (a counter's price is asked by the screen)."""

        offer: OfferView
        step: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._offers: dict[int, OfferView] = {}
        self._me = ""
        self._now = 0

    def compose(self) -> ComposeResult:
        yield MarketTable(id="offers")
        yield SteadyStatic("", id="offer-detail")

    def on_mount(self) -> None:
        self.query_one("#offers", DataTable).add_columns(
            "#", "listing", "side", "with", "offer", "state"
        )

    def show(self, offers: list[OfferView], me: str, now: int) -> None:
        """The open offers either side of me, newest first, as of `now`."""
        self._offers, self._me, self._now = {o.id: o for o in offers}, me, now
        self.query_one("#offers", MarketTable).refill(
            [
                (
                    o.id,
                    (
                        str(o.id),
                        line(o.title, 18),
                        "buying" if o.buyer == me else "selling",
                        line("@" + (o.seller if o.buyer == me else o.buyer), 10),
                        f"{money.fmt(o.unit_price)} × {o.quantity}",
                        o.state(now),
                    ),
                )
                for o in offers
            ]
        )
        self._detail()

    @property
    def current(self) -> OfferView | None:
        return self._offers.get(self.query_one("#offers", MarketTable).selected_key() or 0)

    def _detail(self) -> None:
        o = self.current
        box = self.query_one("#offer-detail", Static)
        if o is None:
            box.update(
                Text(
                    "No open offers. Make one from a listing (n); offers made to you "
                    "wait here for your answer.",
                    style="dim",
                )
            )
            self.screen.refresh_bindings()
            return
        out = Text()
        out.append(f"Offer #{o.id} by @{o.by} to @{o.to}: ", style="bold")
        out.append_text(line(f"#{o.listing_id} {o.title}", 60))
        out.append(
            f"\n{money.fmt(o.unit_price)} × {o.quantity} = {money.fmt(o.amount)} · "
            f"{o.state(self._now)} (until {self.app.wall(o.expires_at)})"
        )
        if o.note:
            out.append("\nNote: ")
            out.append_text(data(o.note))
        steps = o.actions(self._me)
        hint = " · ".join(f"{KEYS[s]}: {s}" for s in steps)
        waiting = f"waiting for @{o.to}'s answer" if o.to != self._me else ""
        out.append(f"\n{hint or waiting}", style="dim")
        box.update(out)
        self.screen.refresh_bindings()

    @on(DataTable.RowHighlighted, "#offers")
    def _highlighted(self) -> None:
        self._detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A step's key shows only when I may take it on the highlighted offer."""
        if action == "choose":
            o = self.current
            return o is not None and parameters[0] in o.actions(self._me)
        return True

    def action_choose(self, step: str) -> None:
        if self.current is not None:
            self.post_message(self.Chosen(self.current, step))
