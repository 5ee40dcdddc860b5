"""A mediator's decision on a dispute: release, refund or split with the seller's share,
showing live who gets what (the services' sentence, or why not); returns the resolution and
the amount as typed via dismiss (None = back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from p2pmarket import money
from p2pmarket.errors import MarketError
from p2pmarket.tui.plain import plain
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.money.orders.disputes import Shares

# The resolutions, as the form names them.
CHOICES = (
    ("release", "Release to the seller"),
    ("refund", "Refund the buyer"),
    ("split", "Split: the seller gets"),
)


class DecisionForm(ModalScreen[tuple[str, str | None] | None]):
    DEFAULT_CSS = """
    DecisionForm { align: center middle; }
    DecisionForm > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; background: $panel; padding: 0 1;
    }
    DecisionForm RadioSet { width: 100%; }
    DecisionForm #decision-amount { margin: 0 0 1 0; }
    DecisionForm #decision-shares { height: auto; text-style: bold; margin-bottom: 1; }
    DecisionForm Horizontal { height: auto; align-horizontal: right; }
    DecisionForm Button { margin-left: 1; }
    """
    BINDINGS: ClassVar = [Binding("escape", "back", "Back")]

    def __init__(
        self, order_id: int, held: int, shares: Callable[[str, str | None], Shares]
    ) -> None:
        super().__init__()
        self._order_id, self._held, self._shares = order_id, held, shares
        self._ok = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                plain(
                    f"Decide the dispute on order #{self._order_id}: "
                    f"{money.fmt(self._held)} in escrow."
                ),
                id="decision-title",
            )
            with RadioSet(id="decision-choice"):
                for i, (key, label) in enumerate(CHOICES):
                    yield RadioButton(label, value=i == 0, name=key)
            yield TextInput(placeholder="the seller's share in yuan, e.g. 40", id="decision-amount")
            yield Static("", id="decision-shares")
            with Horizontal():
                yield Button("Back", id="decision-back", variant="primary")
                yield Button("Decide", id="decision-decide", variant="warning")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()
        self._update()

    def _choice(self) -> tuple[str, str | None]:
        pressed = self.query_one(RadioSet).pressed_button
        resolution = pressed.name if pressed is not None else "release"
        amount = self.query_one("#decision-amount", Input).value.strip()
        return resolution, (amount or None) if resolution == "split" else None

    @on(RadioSet.Changed)
    @on(Input.Changed)
    def _update(self) -> None:
        resolution, amount = self._choice()
        self.query_one("#decision-amount", Input).disabled = resolution != "split"
        shown = self.query_one("#decision-shares", Static)
        if resolution == "split" and amount is None:
            self._ok = False
            shown.update("Type the seller's share in yuan; the buyer gets the rest.")
            return
        try:
            shares = self._shares(resolution, amount)
        except MarketError as exc:
            self._ok = False
            shown.update(plain(exc.message))
            return
        self._ok = True
        sentence = shares.sentence()
        shown.update(plain(sentence[0].upper() + sentence[1:] + "."))

    @on(Input.Submitted)
    @on(Button.Pressed, "#decision-decide")
    def _decide(self) -> None:
        if self._ok:
            self.dismiss(self._choice())

    @on(Button.Pressed, "#decision-back")
    def action_back(self) -> None:
        self.dismiss(None)
