"""The second confirmation before any payment: amount, recipient, balance after, passphrase.

Self-contained: it checks the passphrase through the market and returns True
only when the payer typed it correctly and pressed Pay. Paying is the caller's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from p2pmarket import money
from p2pmarket.clock import countdown
from p2pmarket.errors import MarketError
from p2pmarket.tui.plain import line, plain
from p2pmarket.tui.remedies import for_app
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import PaymentPreview


class PaymentModal(ModalScreen[bool]):
    DEFAULT_CSS = """
    PaymentModal { align: center middle; }
    PaymentModal > Vertical {
        width: 70; height: auto; border: thick $warning; background: $panel; padding: 1 2;
    }
    PaymentModal #pay-title { text-style: bold; margin-bottom: 1; }
    PaymentModal #pay-warning { color: $warning; height: auto; }
    PaymentModal #pay-error { color: $error; height: auto; }
    PaymentModal Input { margin: 1 0 0 0; }
    PaymentModal Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    PaymentModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, preview: PaymentPreview, payer: str, what: str = "Order") -> None:
        """`what` the payment is for: an order, or a plan paying every leg at once."""
        super().__init__()
        self.preview = preview
        self.payer = payer
        self.what = what

    def compose(self) -> ComposeResult:
        p = self.preview
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        facts.add_column()
        facts.add_row(self.what, line(f"#{p.order_id} {p.title}"))
        facts.add_row("Amount", Text(money.fmt(p.amount)))
        facts.add_row("To", Text(f"@{p.to}"))
        facts.add_row(
            "Your balance", Text(f"{money.fmt(p.balance_before)} → {money.fmt(p.balance_after)}")
        )
        facts.add_row(
            "Escrow",
            Text(
                f"The money waits in escrow; you may revoke within "
                f"{countdown(p.revoke_window)} if it is not delivered yet."
            ),
        )
        with Vertical():
            yield Static("Confirm payment", id="pay-title")
            yield Static(facts, id="pay-facts")
            warning = plain(f"Warning: {for_app(p.warning)}") if p.warning else ""
            yield Static(warning, id="pay-warning")
            yield TextInput(placeholder="your passphrase", password=True, id="pay-passphrase")
            yield Static("", id="pay-error")
            with Horizontal():
                yield Button("Cancel", id="pay-cancel")
                yield Button(f"Pay {money.fmt(p.amount)}", variant="warning", id="pay-confirm")

    def on_mount(self) -> None:
        self.query_one("#pay-passphrase", Input).focus()

    @on(Input.Submitted, "#pay-passphrase")
    @on(Button.Pressed, "#pay-confirm")
    def _confirm(self) -> None:
        passphrase = self.query_one("#pay-passphrase", Input).value
        try:
            signer = self.app.market.actor(self.payer, passphrase)
        except MarketError as exc:
            self.query_one("#pay-error", Static).update(plain(exc.message))
            self.query_one("#pay-passphrase", Input).value = ""
            return
        self.app.unlock(signer)
        self.dismiss(True)

    @on(Button.Pressed, "#pay-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
