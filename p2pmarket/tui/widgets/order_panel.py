"""One order: parties, amount, running countdowns, the actions allowed now, a disputed order's
case (the same text its mediator reads), and the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Column, Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from p2pmarket import money
from p2pmarket.market import bookings
from p2pmarket.services.money import orders
from p2pmarket.text import counted
from p2pmarket.tui.plain import data, line, said
from p2pmarket.tui.widgets.dispute_case import case_text
from p2pmarket.tui.widgets.steady import SteadyStatic

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import OrderView
    from p2pmarket.services.money.orders.disputes import CaseView

LABELS = {
    "accept": "Accept",
    "cancel": "Cancel order",
    "pay": "Pay…",
    "revoke": "Revoke payment",
    "deliver": "Mark delivered",
    "confirm": "Confirm delivery",
    "extend": "Extend confirm window",
    "dispute": "Open dispute…",
    "statement": "Add statement…",
    "resolve": "Resolve…",
    "handover": "Hand over",
    "return": "Came back",
    "claim": "Claim deposit…",
    "accept-claim": "Accept claim",
    "meet": "Propose meet-up…",
    "ship": "Ship…",
    "agree": "Agree handover",
    "review": "Review…",
}
VARIANTS = {
    "pay": "warning",
    "confirm": "success",
    "accept": "primary",
    "deliver": "primary",
    "handover": "primary",
    "return": "success",
}


class OrderPanel(VerticalScroll):
    DEFAULT_CSS = """
    OrderPanel { height: 1fr; padding: 0 1; }
    OrderPanel #order-head { height: auto; }
    OrderPanel #order-timers { height: auto; color: $warning; margin-top: 1; }
    OrderPanel #order-actions { height: auto; margin: 1 0; }
    OrderPanel #order-actions Button { margin-right: 1; min-width: 10; }
    OrderPanel #order-case { height: auto; margin-bottom: 1; }
    OrderPanel #order-timeline { height: auto; }
    """

    @dataclass
    class Chosen(Message):
        order_id: int
        action: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.order: OrderView | None = None
        # The order and timeline the timeline pane shows (a Rich table, not compared).
        self._timeline: tuple | None = None

    def compose(self) -> ComposeResult:
        yield SteadyStatic(
            "Select an order to see its timeline and what you can do.", id="order-head"
        )
        yield SteadyStatic("", id="order-timers")
        yield Horizontal(id="order-actions")
        yield SteadyStatic("", id="order-case")
        yield SteadyStatic("", id="order-timeline")

    def show(
        self, order: OrderView | None, actions: list[str], now: int, case: CaseView | None = None
    ) -> None:
        self.order = order
        head = self.query_one("#order-head", Static)
        self._buttons(actions if order is not None else [])
        shown_case = self.query_one("#order-case", Static)
        shown_case.update(case_text(case, now, self.app.wall) if case is not None else "")
        shown_case.display = case is not None
        if order is None:
            head.update("Select an order to see its timeline and what you can do.")
            self.query_one("#order-timers", Static).update("")
            self._show_timeline(None)
            return
        text = Text()
        text.append(f"Order #{order.id} ", style="bold")
        text.append(str(line(order.title, 500)), style="bold")
        if order.deposit is None:
            text.append(f"\n{order.quantity} × {money.fmt(order.unit_price)} = ")
        else:
            text.append(
                f"\n{counted(order.quantity, 'day')} × {money.fmt(order.unit_price)} + deposit "
                f"{money.fmt(order.deposit)} = "
            )
        text.append(money.fmt(order.amount), style="bold")
        text.append(f" · buyer @{order.buyer} · seller @{order.seller}\nStatus: ")
        text.append(said(order.status).upper(), style="bold reverse")
        if order.deposit is not None:
            text.append_text(_rental(self.app.market, order))
        elif order.slot_start is not None:
            market = self.app.market
            text.append(
                f"\nSlot: {bookings.local(market, order.slot_start)} to "
                f"{bookings.local(market, order.slot_end)}"
            )
        if order.handover is not None:
            h = order.handover
            text.append("\nHandover: ")
            text.append_text(data(h.describe(self.app.market.settings.zone)))
            if h.agreed:
                text.append(" · agreed", style="bold green")
            else:
                text.append(f" · proposed by @{h.proposed_by}, not agreed yet", style="yellow")
        head.update(text)
        timers = order.countdowns(now)
        self.query_one("#order-timers", Static).update(
            Text(" · ".join(f"{k}: {v}" for k, v in timers.items())) if timers else ""
        )
        self._show_timeline(order)

    def _buttons(self, actions: list[str]) -> None:
        """The actions' buttons: those shown stay when they are the same (a shown-again
        order list re-reads its order; new buttons cost their mount, styling and layout)."""
        box = self.query_one("#order-actions", Horizontal)
        if [button.name for button in box.children] == actions:
            return
        box.remove_children()
        box.mount_all(
            Button(LABELS[a], name=a, variant=VARIANTS.get(a, "default"), compact=True)
            for a in actions
        )

    def _show_timeline(self, order: OrderView | None) -> None:
        shown = (order.id, tuple(order.timeline)) if order is not None else None
        if shown == self._timeline:
            return
        self._timeline = shown
        if order is None or not order.timeline:
            self.query_one("#order-timeline", Static).update("")
            return
        # An order lives for days, not years: its steps by day and time, never wrapped.
        grid = Table(
            Column("when", no_wrap=True),
            "who",
            "step",
            Column("amount", no_wrap=True),
            "note",
            box=None,
            header_style="bold",
            expand=True,
        )
        for e in order.timeline:
            grid.add_row(
                Text(self.app.wall(e.at)[5:]),
                Text(f"@{e.actor}" if e.actor else "timer"),
                Text(f"{said(e.from_status or '·')} → {said(e.to_status)}"),
                Text(money.fmt(e.amount) if e.amount else ""),
                data(e.note),
            )
        self.query_one("#order-timeline", Static).update(grid)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if self.order is not None and event.button.name in LABELS:
            event.stop()
            self.post_message(self.Chosen(self.order.id, event.button.name))


def _rental(market, order: OrderView) -> Text:
    """A rental's days, its rent and where its deposit is (held, claimed, returned…)."""
    text = Text()
    text.append(
        f"\nRented from {bookings.local(market, order.slot_start)[:10]}, back on "
        f"{bookings.local(market, order.slot_end)[:10]}"
    )
    text.append("\nDeposit: ")
    text.append(orders.deposit_state(order), style="bold")
    if order.claim_amount is not None:
        text.append(" · claim: ")
        text.append_text(data(order.claim_reason or ""))
    return text
