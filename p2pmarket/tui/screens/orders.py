"""Orders: buying and selling tabs, each order's timeline and countdowns, the actions allowed now.

Paying always goes through the second-confirmation modal (PaymentModal).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, TabbedContent, TabPane

from p2pmarket import money
from p2pmarket.errors import Invalid
from p2pmarket.models import User
from p2pmarket.services import orders
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.order_panel import OrderPanel
from p2pmarket.tui.widgets.table import MarketTable


class OrderActions:
    """Shared by the orders and mediation screens: show an order in the OrderPanel with the
    actions allowed now, and run one of them as the logged-in user."""

    current: orders.OrderView | None

    def _show(self: MarketScreen, order_id: int | None) -> None:
        panel = self.query_one(OrderPanel)
        if order_id is None:
            self.current = None
            panel.show(None, [], 0)
            return
        with self.read() as session:
            me = session.get(User, self.market.user.id)
            self.current = orders.get_order(session, me, order_id)
        actions = orders.allowed_actions(self.current, me.handle, str(me.role))
        panel.show(self.current, actions, self.market.clock.now())

    def run_order_action(self: MarketScreen, order_id: int, action: str) -> None:
        if action == "pay":
            self._pay(order_id)
        elif action == "resolve":
            self._resolve(order_id)
        else:
            self._act(order_id, action)

    def _act(self: MarketScreen, order_id: int, action: str, **options) -> None:
        def act():
            with self.write() as session:
                me = session.get(User, self.market.user.id)
                return orders.act(
                    session,
                    self.market.clock,
                    self.market.config.settings,
                    me,
                    order_id,
                    action,
                    **options,
                )

        done = self.attempt(act)
        if done is not None:
            self.market.tell(f"Order #{done.id} is {done.status}.")
            self.reload()

    def _pay(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.payment import PaymentModal

        def preview():
            with self.read() as session:
                me = session.get(User, self.market.user.id)
                return orders.preview_payment(
                    session, self.market.clock, self.market.config.settings, me, order_id
                )

        p = self.attempt(preview)
        if p is None:
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._act(order_id, "pay")

        self.app.push_screen(PaymentModal(p, self.market.user.handle), confirmed)

    def _resolve(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def answered(value: str | None) -> None:
            if not value:
                return
            words = value.split()
            resolution = words[0].lower()

            def options() -> dict:
                if resolution != "split":
                    return {"resolution": resolution}
                if len(words) < 2:
                    raise Invalid("split_amount", "A split needs the seller's part, e.g. split 40.")
                return {"resolution": "split", "split": money.parse(words[1])}

            chosen = self.attempt(options)
            if chosen is not None:
                self._act(order_id, "resolve", **chosen)

        self.app.push_screen(
            AskModal(
                f"Resolve order #{order_id}: release, refund, or split AMOUNT "
                "(the seller's part in yuan)",
                placeholder="split 40",
            ),
            answered,
        )


class OrdersScreen(OrderActions, MarketScreen):
    NAME = "Orders"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("a", "order('accept')", "Accept"),
        Binding("y", "order('pay')", "Pay"),
        Binding("d", "order('deliver')", "Deliver"),
        Binding("f", "order('confirm')", "Confirm"),
        Binding("v", "order('revoke')", "Revoke"),
        Binding("x", "order('cancel')", "Cancel order", show=False),
        Binding("i", "order('dispute')", "Dispute", show=False),
        Binding("n", "order('extend')", "Extend", show=False),
        Binding("w", "message", "Message", show=False),
    ]

    def __init__(self, focus_order: int | None = None) -> None:
        super().__init__()
        self.focus_order = focus_order
        self.current: orders.OrderView | None = None

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
        user = self.market.user
        with self.read() as session:
            me = session.get(User, user.id)
            sides = {s: orders.list_orders(session, me.id, side=s) for s in ("buying", "selling")}
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

    def action_order(self, action: str) -> None:
        if self.current is not None:
            self.run_order_action(self.current.id, action)

    def action_message(self) -> None:
        from p2pmarket.tui.screens.chat import ChatScreen

        if self.current is not None:
            me = self.market.user.handle
            other = self.current.seller if self.current.buyer == me else self.current.buyer
            self.market.open(ChatScreen(with_handle=other))

    def palette_commands(self) -> list:
        if self.current is None:
            return []
        return [
            (f"Orders: open chat about order #{self.current.id}", "", self.action_message),
        ]
