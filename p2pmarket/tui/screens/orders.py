"""Orders: buying and selling tabs, each order's timeline and countdowns, the actions allowed now;
an offers tab beside them, with my open offers either side and their answers.

Paying always goes through the second-confirmation modal (PaymentModal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, TabbedContent, TabPane

from p2pmarket import money
from p2pmarket.tui.plain import line, said
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.offers_pane import OffersPane
from p2pmarket.tui.widgets.order_actions import OrderActions
from p2pmarket.tui.widgets.order_panel import OrderPanel
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import OrderView
    from p2pmarket.services.trust.offers import OfferView


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
        Binding("T", "order('statement')", "Statement"),
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
        Binding("O", "offers_tab", "Offers"),
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
                with TabPane("Offers", id="tab-offers"):
                    yield OffersPane(id="offers-pane")
            yield OrderPanel(id="order-panel")
        yield MarketFooter()

    def on_mount(self) -> None:
        for side in ("buying", "selling"):
            # By priority: the lists' pane is 60 columns at 120, where "with" is cut first.
            self.query_one(f"#{side}", DataTable).add_columns(
                "#", "title", "amount", "status", "with"
            )
        self.set_interval(20, self._countdowns)

    def _countdowns(self) -> None:
        # Kept while other sections are shown (and timers run on): read only when seen.
        if self.is_current:
            self.reload()

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
                            line(o.title, 24),
                            money.fmt(o.amount),
                            said(o.status),
                            line("@" + (o.seller if side == "buying" else o.buyer)),
                        ),
                    )
                    for o in found
                ]
            )
        self.query_one(OffersPane).show(
            self.actor.list_offers(open_only=True), self.actor.handle, self.market.clock.now()
        )
        if self.focus_order is not None:
            self._focus(self.focus_order, sides)
            self.focus_order = None
        self._show_current()

    def _focus(self, order_id: int, sides: dict) -> None:
        for side, found in sides.items():
            for index, o in enumerate(found):
                if o.id == order_id:
                    self.query_one(TabbedContent).active = f"tab-{side}"
                    table = self.query_one(f"#{side}", MarketTable)
                    table.move_cursor(row=index, animate=False)
                    table.focus()
                    return

    def _table(self) -> MarketTable | None:
        """The orders table shown (None: the offers tab, whose pane says the rest)."""
        active = self.query_one(TabbedContent).active or "tab-buying"
        if active == "tab-offers":
            return None
        return self.query_one(f"#{active.removeprefix('tab-')}", MarketTable)

    def _show_current(self) -> None:
        table = self._table()
        # The offers tab takes the whole width: its pane shows the offer, not an order.
        self.query_one("#orders").set_class(table is None, "offers")
        self._show(table.selected_key() if table is not None else None)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self._table() and event.row_key.value is not None:
            self._show(int(event.row_key.value))

    @on(TabbedContent.TabActivated)
    def _tab(self) -> None:
        self._show_current()
        if self._table() is None:
            self.query_one("#offers", MarketTable).focus()  # where its keys work

    @on(OrderPanel.Chosen)
    def _chosen(self, message: OrderPanel.Chosen) -> None:
        self.run_order_action(message.order_id, message.action)

    def action_offers_tab(self) -> None:
        """The Offers tab, and from it back to Buying."""
        tabs = self.query_one(TabbedContent)
        tabs.active = "tab-buying" if tabs.active == "tab-offers" else "tab-offers"
        if tabs.active == "tab-buying":
            self.query_one("#buying", MarketTable).focus()

    @on(OffersPane.Chosen)
    def _offer_chosen(self, message: OffersPane.Chosen) -> None:
        """Accept (asked once: it becomes an order), decline, withdraw, or counter with a
        price asked in a modal."""
        from p2pmarket.tui.widgets.ask import AskModal
        from p2pmarket.tui.widgets.confirm import ConfirmModal

        o, step = message.offer, message.step
        terms = f"{money.fmt(o.unit_price)} × {o.quantity} = {money.fmt(o.amount)}"
        if step == "counter":
            question = (
                f"Counter @{o.by}'s offer #{o.id} ({terms}) for {o.title}: "
                "your price per unit (yuan)?"
            )
            self.app.push_screen(
                AskModal(question, placeholder=money.plain(o.unit_price)),
                lambda price: price and self._answer(o, "counter", price),
            )
        elif step == "accept":
            payer = "you" if o.buyer == self.actor.handle else f"@{o.buyer}"
            question = (
                f"Accept offer #{o.id} ({terms}) for {o.title}? It becomes an order at this "
                f"price, for {payer} to pay."
            )
            self.app.push_screen(
                ConfirmModal(question, yes="Accept", no="Back"),
                lambda yes: yes and self._answer(o, "accept"),
            )
        else:
            self._answer(o, step)

    def _answer(self, o: OfferView, step: str, price: str | None = None) -> None:
        done = self.attempt(
            lambda: self.actor.answer_offer(
                o.id, step, unit_price=money.parse(price) if price is not None else None
            )
        )
        if done is None:
            return
        if step == "accept":
            self.market.tell(
                f"Offer #{o.id} accepted: order #{done.order_id} for {money.fmt(done.amount)}, "
                f"ready for @{done.buyer} to pay."
            )
            self.focus_order = done.order_id
        elif step == "counter":
            self.market.tell(
                f"Countered with offer #{done.id}: {money.fmt(done.unit_price)} × "
                f"{done.quantity}, waiting for @{done.to}."
            )
        else:
            self.market.tell(f"Offer #{o.id} {said(done.status)}.")
        self.reload()

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
