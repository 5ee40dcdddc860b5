"""Credit & history: both scores, a plot over time, and the records behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from p2pmarket import files, money
from p2pmarket.clock import DAY
from p2pmarket.errors import MarketError
from p2pmarket.market import records
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable

if TYPE_CHECKING:
    from p2pmarket.services.trust import credit


class CreditScreen(MarketScreen):
    NAME = "Credit & history"
    LIVE = False
    BINDINGS: ClassVar = [
        Binding("f5", "refresh_scores", "Recompute"),
        Binding("v", "verify", "Verify records"),
        Binding("x", "export", "Export history"),
        Binding("b", "backup", "Back up"),
    ]

    @dataclass
    class Verified(Message):
        report: records.VerifyReport | None
        error: str | None = None

    @dataclass
    class Done(Message):
        text: str
        error: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.scores: credit.Scores | None = None
        self.history: list[credit.CreditEventView] = []
        # The history the plot was drawn from (None: not drawn yet).
        self._plotted: tuple | None = None

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        yield Header()
        with Horizontal(id="credit-top"):
            with Vertical(id="credit-cards"):
                yield SteadyStatic("", id="scores", classes="card")
                yield SteadyStatic("", id="records-status", classes="card")
            yield PlotextPlot(id="credit-plot")
        with TabbedContent(id="credit-tabs"):
            with TabPane("Credit records", id="tab-credit"):
                yield MarketTable(id="credit-records")
            with TabPane("Money records", id="tab-money"):
                yield MarketTable(id="money-records")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.query_one("#credit-records", DataTable).add_columns(
            "when", "dimension", "change", "score after", "why"
        )
        self.query_one("#money-records", DataTable).add_columns(
            "when", "kind", "amount", "order", "entry"
        )

    def reload(self) -> None:
        loaded = self.attempt(self.actor.credit_records)
        if loaded is None:
            return
        self.scores, self.history, statement = loaded.scores, loaded.history, loaded.statement
        card = Text()
        card.append("Credit (350–950)\n", style="bold")
        card.append(f"transaction {self.scores.transaction}\n", style="bold blue")
        card.append(f"social      {self.scores.social}\n", style="bold magenta")
        card.append(f"{len(self.history)} recorded changes", style="dim")
        self.query_one("#scores", Static).update(card)
        self._plot()
        self.query_one("#credit-records", MarketTable).refill(
            [
                (
                    e.id,
                    (
                        self.market.wall(e.at),
                        e.dimension,
                        f"{e.delta:+d}",
                        str(e.score_after),
                        line(e.reason, 70),
                    ),
                )
                for e in reversed(self.history)
            ]
        )
        self.query_one("#money-records", MarketTable).refill(
            [(i, self._money_row(row)) for i, row in enumerate(statement)]
        )

    def _money_row(self, row: dict) -> tuple:
        at = row.get("at")
        return (
            self.market.wall(at) if isinstance(at, int) else str(at or ""),
            str(row.get("kind", "")),
            money.fmt(row["amount"]) if isinstance(row.get("amount"), int) else "",
            str(row.get("order_id") or ""),
            str(row.get("entry_id", "")),
        )

    def _records_status(self, report: records.VerifyReport | None = None, error: str = "") -> None:
        out = Text()
        out.append("Records\n", style="bold")
        if error:
            out.append(error, style="red")
        elif report is None:
            out.append("verifying the hash chains…", style="dim")
        elif report.ok:
            rows = sum(report.rows_checked.values())
            since = f" since checkpoint #{report.since}" if report.since is not None else ""
            out.append(f"✓ verified: {rows:,} chained rows intact{since}", style="green")
        else:
            first = report.problems[0]
            out.append(f"✗ {len(report.problems)} problems: ", style="bold red")
            out.append(f"{first.chain} row {first.row_id}: {first.what}")
        out.append("\nv verify · x export · b back up", style="dim")
        self.query_one("#records-status", Static).update(out)

    def shown_again(self) -> None:
        self.reload()
        self._verify()  # the last result stays up until this one's comes (one layout, not two)

    def action_verify(self) -> None:
        self._records_status()
        self._verify()

    @work(thread=True, exclusive=True, group="records")
    def _verify(self) -> None:
        try:
            report = records.verify(self.market.market)
        except MarketError as exc:
            self.post_message(self.Verified(None, exc.message))
            return
        self.post_message(self.Verified(report))

    def on_credit_screen_verified(self, message: Verified) -> None:
        self._records_status(message.report, message.error or "")

    @work(thread=True, exclusive=True, group="records")
    def action_backup(self) -> None:
        try:
            made = records.backup(self.market.market, reason="tui")
        except MarketError as exc:
            self.post_message(self.Done(exc.message, error=True))
            return
        self.post_message(self.Done(f"Backed up to {made.path} ({made.size_bytes:,} bytes)."))

    @work(thread=True, exclusive=True, group="records")
    def action_export(self) -> None:
        user = self.market.user
        out = (
            Path(self.market.config.home) / f"history-{user.handle}-{self.market.clock.now()}.json"
        )
        try:
            made = self.actor.export_history(user.handle)
            files.write_private(out, made.text)
        except MarketError as exc:
            self.post_message(self.Done(exc.message, error=True))
            return
        except OSError as exc:
            self.post_message(self.Done(f"Cannot write {out}: {exc.strerror}.", error=True))
            return
        self.post_message(self.Done(f"Exported your history to {out}."))

    def on_credit_screen_done(self, message: Done) -> None:
        if message.error:
            self.notify(message.text, severity="error", markup=False)
        else:
            self.market.tell(message.text)

    def _plot(self) -> None:
        from textual_plotext import PlotextPlot

        if self._plotted == tuple(self.history):
            return  # shown again with the same history: a plot costs its whole render
        self._plotted = tuple(self.history)
        widget = self.query_one("#credit-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.title("Credit over time")
        joined = self.market.user.created_at
        for dimension, colour in (("transaction", "blue"), ("social", "magenta")):
            points = [e for e in self.history if e.dimension == dimension]
            if points:
                xs = [round((e.at - joined) / DAY, 2) for e in points]
                plt.plot(
                    xs,
                    [e.score_after for e in points],
                    label=dimension,
                    color=colour,
                    marker="braille",
                )
        if self.history:  # the x axis in dates (UTC, as every time shown), not day numbers
            first, last = min(e.at for e in self.history), max(e.at for e in self.history)
            moments = sorted({first + (last - first) * i // 3 for i in range(4)})
            plt.xticks(
                [round((t - joined) / DAY, 2) for t in moments],
                [datetime.fromtimestamp(t, UTC).strftime("%b %d") for t in moments],
            )
        plt.ylim(350, 950)
        widget.refresh()

    def action_refresh_scores(self) -> None:
        self.reload()
