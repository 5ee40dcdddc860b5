"""Two self-contained modals for offers: making one (price, quantity, note) and answering
one made to you (accept, decline, or counter with a price). Each returns what was typed via
dismiss (None = cancel); the screen turns it into one Actor call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from p2pmarket import money
from p2pmarket.errors import Invalid
from p2pmarket.tui.plain import plain
from p2pmarket.tui.widgets.text_input import TextInput

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; height: auto; border: round $accent; background: $panel; padding: 0 2;
}}
{name} Input {{ margin: 0 0 1 0; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 1; min-width: 10; }}
"""


@dataclass(frozen=True)
class OfferTerms:
    """What was typed, checked: the price per unit (minor units), quantity, note."""

    price: int
    quantity: int
    note: str


def parse_quantity(value: str) -> int:
    value = value.strip() or "1"
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise Invalid("quantity_format", f"Quantity {value[:20]!r} must be a whole number ≥ 1.")
    return int(value)


def _checked(form: ModalScreen, box_id: str, parse: Callable[[str], int]) -> int | None:
    """What the box `box_id` holds, parsed; on a mistake its reason, the focus back in the
    box and None."""
    box = form.query_one(f"#{box_id}", Input)
    try:
        return parse(box.value)
    except Invalid as exc:
        box.focus()
        form.notify(exc.message, severity="warning")
        return None


class OfferForm(ModalScreen[OfferTerms | None]):
    """Make an offer: price per unit (yuan), quantity, an optional note."""

    DEFAULT_CSS = _CSS.format(name="OfferForm")
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, price: str = "") -> None:
        super().__init__()
        self._question, self._price = question, price

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self._question), id="offer-question")
            yield TextInput(value=self._price, placeholder="price per unit, e.g. 120", id="price")
            yield TextInput(placeholder="quantity (1)", id="qty")
            yield TextInput(placeholder="a note (optional)", id="note")
            with Horizontal():
                yield Button("Cancel", id="offer-cancel")
                yield Button("Offer", variant="primary", id="offer-ok")

    def on_mount(self) -> None:
        self.query_one("#price", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#offer-ok")
    def _ok(self) -> None:
        """Checked here, the form kept open on a mistake: nothing typed is lost to a typo."""
        price = _checked(self, "price", money.parse)
        if price is None:
            return
        quantity = _checked(self, "qty", parse_quantity)
        if quantity is None:
            return
        self.dismiss(OfferTerms(price, quantity, self.query_one("#note", Input).value))

    @on(Button.Pressed, "#offer-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class OfferAnswer:
    """accept, decline, or counter with `price` per unit (minor units, checked)."""

    step: str
    price: int | None = None


class AnswerOffer(ModalScreen[OfferAnswer | None]):
    """An offer made to you: accept it (it becomes an order), decline it, or counter."""

    DEFAULT_CSS = _CSS.format(name="AnswerOffer")
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, offer: Text) -> None:
        super().__init__()
        self._offer = offer

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._offer, id="offer-text")
            yield TextInput(placeholder="counter: your price per unit", id="counter-price")
            with Horizontal():
                yield Button("Cancel", id="answer-cancel")
                yield Button("Decline", variant="error", id="decline")
                yield Button("Counter", id="counter")
                yield Button("Accept", variant="success", id="accept")

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    @on(Button.Pressed, "#accept")
    @on(Button.Pressed, "#decline")
    def _decide(self, event: Button.Pressed) -> None:
        self.dismiss(OfferAnswer(event.button.id))

    @on(Input.Submitted)
    @on(Button.Pressed, "#counter")
    def _counter(self) -> None:
        price = self.query_one("#counter-price", Input).value
        if not price.strip():
            self.query_one("#counter-price", Input).focus()
            self.notify("Type your price per unit to counter.", severity="warning")
            return
        unit_price = _checked(self, "counter-price", money.parse)
        if unit_price is None:
            return
        self.dismiss(OfferAnswer("counter", unit_price))

    @on(Button.Pressed, "#answer-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
