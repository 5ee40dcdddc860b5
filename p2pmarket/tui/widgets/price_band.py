"""The suggested price band and a live low / fair / high verdict for the price being typed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from p2pmarket import money
from p2pmarket.services.market import pricing


class PriceBand(Static):
    DEFAULT_CSS = """
    PriceBand { height: auto; padding: 0 1; border: round $primary-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.suggestion: pricing.Suggestion | None = None
        self.verdict: str | None = None
        self._price: int | None = None
        self._problem: str | None = None
        self._no_band: str | None = None

    def set_suggestion(
        self, suggestion: pricing.Suggestion | None, problem: str | None = None
    ) -> None:
        """The band to judge prices by; None with the `problem` there is none for."""
        self.suggestion, self._no_band = suggestion, problem
        self._draw()

    def set_price(self, price: int | None, problem: str | None = None) -> None:
        self._price, self._problem = price, problem
        self._draw()

    def _draw(self) -> None:
        s = self.suggestion
        out = Text()
        if s is None and self._no_band:
            out.append(self._no_band, style="red")
            self.update(out)
            return
        if s is None:
            out.append("Choose a category and unit to see the suggested price.", style="dim")
            self.update(out)
            return
        out.append("Suggested: ", style="bold")
        out.append(f"{money.fmt(s.p25)} · {money.fmt(s.p50)} · {money.fmt(s.p75)}")
        out.append(f" per {s.unit} (p25 · median · p75)\n", style="dim")
        out.append(f"Basis: {s.basis}\n", style="dim")
        self.verdict = None
        if self._problem:
            out.append(self._problem, style="red")
        elif self._price is not None and s.against is None:
            out.append("Too few similar items to judge this price.", style="dim")
        elif self._price is not None:
            self.verdict = pricing.verdict(self._price, s)
            colour = {"low": "yellow", "fair": "green", "high": "red"}[self.verdict or "fair"]
            out.append(f"{money.fmt(self._price)} is ")
            out.append((self.verdict or "").upper(), style=f"bold {colour}")
            out.append(f" against {s.against}.")
        else:
            out.append("Type a price to see whether it is low, fair or high.", style="dim")
        self.update(out)


def price_line(price: int, s: pricing.Suggestion) -> Text:
    """'Suggested ¥a · ¥b · ¥c' and how this price compares (or the basis, with no
    comparables): a listing's price beside its own band."""
    out = Text("\nSuggested ", style="dim")
    out.append(f"{money.fmt(s.p25)} · {money.fmt(s.p50)} · {money.fmt(s.p75)}")
    said = pricing.compare(price, s)
    out.append(f" (p25 · median · p75): {said or s.basis}", style="dim")
    return out
