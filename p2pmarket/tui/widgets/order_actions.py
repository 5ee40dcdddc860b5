"""Show an order with the actions allowed now, and run one (the orders, mediation and chat
screens share it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pmarket import money
from p2pmarket.errors import Invalid
from p2pmarket.models import User
from p2pmarket.services import orders
from p2pmarket.tui.widgets.order_panel import OrderPanel

if TYPE_CHECKING:
    from p2pmarket.tui.screens.base import MarketScreen


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
