"""The mediation queue: disputed orders to resolve and open reports. A dispute's pane shows its
case (reason, attached chat lines, both statements, both parties' credit) above its timeline;
`v` opens the decision form (release, refund or split, showing who gets what)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Static

from p2pmarket import money
from p2pmarket.errors import MarketError
from p2pmarket.text import counted
from p2pmarket.tui.plain import line, plain, said
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.order_actions import OrderActions
from p2pmarket.tui.widgets.order_panel import OrderPanel
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import OrderView


class MediationScreen(OrderActions, MarketScreen):
    NAME = "Mediation"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("v", "resolve", "Resolve"),
        Binding("y", "report(True)", "Uphold report"),
        Binding("n", "report(False)", "Dismiss report"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: OrderView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="mediation-note")
        with Horizontal(id="mediation"):
            with Vertical(id="mediation-lists"):
                yield Static("Disputed orders", classes="section-title")
                yield MarketTable(id="disputes")
                yield Static("Open reports", classes="section-title")
                yield MarketTable(id="reports")
            yield OrderPanel(id="order-panel")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.query_one("#disputes", DataTable).add_columns(
            "#", "title", "buyer", "seller", "amount"
        )
        self.query_one("#reports", DataTable).add_columns("#", "reporter", "about", "reason")

    def reload(self) -> None:
        note = self.query_one("#mediation-note", Static)
        try:
            waiting = self.actor.mediation_queue()
        except MarketError as exc:
            note.update(plain(exc.message))
            return
        queue, reports = waiting.disputes, waiting.reports
        note.update(
            f"{counted(len(queue), 'dispute')} and {counted(len(reports), 'report')} "
            "wait for a mediator."
        )
        self.query_one("#disputes", MarketTable).refill(
            [
                (
                    o.id,
                    (
                        str(o.id),
                        line(o.title, 30),
                        line(f"@{o.buyer}"),
                        line(f"@{o.seller}"),
                        money.fmt(o.amount),
                    ),
                )
                for o in queue
            ]
        )
        self.query_one("#reports", MarketTable).refill(
            [
                (
                    r.id,
                    (str(r.id), line(f"@{r.reporter}"), line(f"@{r.target}"), line(r.reason, 50)),
                )
                for r in reports
            ]
        )
        self._show(self.query_one("#disputes", MarketTable).selected_key())

    @on(DataTable.RowHighlighted, "#disputes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(int(event.row_key.value))

    @on(OrderPanel.Chosen)
    def _chosen(self, message: OrderPanel.Chosen) -> None:
        self.run_order_action(message.order_id, message.action)

    def action_resolve(self) -> None:
        if self.current is not None:
            self.run_order_action(self.current.id, "resolve")

    def action_report(self, upheld: bool) -> None:
        report_id = self.query_one("#reports", MarketTable).selected_key()
        if report_id is None:
            return
        done = self.attempt(lambda: self.actor.resolve_report(report_id, upheld))
        if done is not None:
            self.market.tell(f"Report #{done.id} is {said(done.status)}.")
            self.reload()
