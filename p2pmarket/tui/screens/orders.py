"""Orders: buying and selling tabs, each order's timeline and countdowns, the actions allowed now.

Paying always goes through the second-confirmation modal (PaymentModal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, TabbedContent, TabPane

from p2pmarket import money
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.order_actions import OrderActions
from p2pmarket.tui.widgets.order_panel import OrderPanel
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import OrderView


class OrdersScreen(OrderActions, MarketScreen):
    NAME = "Orders"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("a", "order('accept')", "Accept"),
        Binding("y", "order('pay')", "Pay"),
        Binding("d", "order('deliver')", "Deliver"),
        Binding("f", "order('confirm')", "Confirm"),
        Binding("v", "order('revoke')", "Revoke"),
        Binding("x", "order('cancel')", "Cancel order"),
        Binding("i", "order('dispute')", "Dispute"),
        Binding("n", "order('extend')", "Extend"),
        Binding("H", "order('handover')", "Hand over"),
        Binding("b", "order('return')", "Came back"),
        Binding("C", "order('claim')", "Claim deposit"),
        Binding("e", "order('accept-claim')", "Accept claim"),
        Binding("M", "order('meet')", "Meet-up"),
        Binding("S", "order('ship')", "Ship"),
        Binding("A", "order('agree')", "Agree handover"),
        Binding("R", "order('review')", "Review"),
        Binding("w", "message", "Message", show=False),
    ]

    def __init__(self, focus_order: int | None = None) -> None:
        super().__init__()
        self.focus_order = focus_order
        self.current: OrderView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="orders"):
            with TabbedContent(id="order-tabs"):
                with TabPane("Buying", id="tab-buying"):
                    yield MarketTable(id="buying")
                with TabPane("Selling", id="tab-selling"):
                    yield MarketTable(id="selling")
            yield OrderPanel(id="order-panel")
        yield Footer()

    def on_mount(self) -> None:
        for side in ("buying", "selling"):
            self.query_one(f"#{side}", DataTable).add_columns(
                "#", "title", "with", "amount", "status"
            )
        self.set_interval(20, self.reload)

    def reload(self) -> None:
        self.market.run_timers()
        sides = {s: self.actor.list_orders(side=s) for s in ("buying", "selling")}
        for side, found in sides.items():
            self.query_one(f"#{side}", MarketTable).refill(
                [
                    (
                        o.id,
                        (
                            str(o.id),
                            line(o.title, 36),
                            line("@" + (o.seller if side == "buying" else o.buyer)),
                            money.fmt(o.amount),
                            o.status,
                        ),
                    )
                    for o in found
                ]
            )
        if self.focus_order is not None:
            self._focus(self.focus_order, sides)
            self.focus_order = None
        self._show(self._table().selected_key())

    def _focus(self, order_id: int, sides: dict) -> None:
        for side, found in sides.items():
            for index, o in enumerate(found):
                if o.id == order_id:
                    self.query_one(TabbedContent).active = f"tab-{side}"
                    table = self.query_one(f"#{side}", MarketTable)
                    table.move_cursor(row=index, animate=False)
                    table.focus()
                    return

    def _table(self) -> MarketTable:
        active = self.query_one(TabbedContent).active or "tab-buying"
        return self.query_one(f"#{active.removeprefix('tab-')}", MarketTable)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self._table() and event.row_key.value is not None:
            self._show(int(event.row_key.value))

    @on(TabbedContent.TabActivated)
    def _tab(self) -> None:
        self._show(self._table().selected_key())

    @on(OrderPanel.Chosen)
    def _chosen(self, message: OrderPanel.Chosen) -> None:
        self.run_order_action(message.order_id, message.action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """An order step's key shows in the footer only where that step applies now."""
        if action == "order":
            return parameters[0] in self.allowed
        return True

    def action_order(self, action: str) -> None:
        if self.current is not None:
            self.run_order_action(self.current.id, action)

    def action_message(self) -> None:
        from p2pmarket.tui.screens.chat import ChatScreen

        if self.current is not None:
            me = self.actor.handle
            other = self.current.seller if self.current.buyer == me else self.current.buyer
            self.market.open(ChatScreen(with_handle=other))

    def palette_commands(self) -> list:
        if self.current is None:
            return []
        return [
            (f"Orders: open chat about order #{self.current.id}", "", self.action_message),
        ]
