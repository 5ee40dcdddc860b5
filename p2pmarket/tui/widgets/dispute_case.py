"""A dispute's case as the mediator reads it: who opened it and why, the chat lines attached,
both sides' statements, the statement window and both parties' credit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text

from p2pmarket import money
from p2pmarket.tui.plain import data

if TYPE_CHECKING:
    from p2pmarket.services.money.orders.disputes import CaseView


def case_text(case: CaseView, now: int, wall: Callable[[int], str]) -> Text:
    text = Text()
    opener = f"@{case.opened_by}" if case.opened_by else "a party"
    text.append("Dispute ", style="bold")
    text.append(f"opened by {opener} at {wall(case.opened_at)} · ")
    text.append(f"{money.fmt(case.held)} in escrow", style="bold")
    text.append("\nCredit: ", style="bold")
    text.append(
        " · ".join(
            f"@{who} transaction {s.transaction}, social {s.social}"
            for who, s in case.credit.items()
        )
    )
    text.append("\nReason: ", style="bold")
    text.append_text(data(case.reason) if case.reason is not None else Text("(none given)"))
    if case.attached:
        text.append("\nAttached from their chat:", style="bold")
        for m in case.attached:
            text.append(f"\n  {wall(m.at)[5:]} @{m.sender}: ", style="dim")
            text.append_text(data(m.body))
    for party in (case.order.buyer, case.order.seller):
        said = next((s for s in case.statements if s.author == party), None)
        side = "buyer" if party == case.order.buyer else "seller"
        text.append(f"\nStatement of @{party} ({side}): ", style="bold")
        text.append_text(data(said.text) if said is not None else Text("none", style="dim"))
    window = case.window(now)
    text.append(f"\n{window[0].upper()}{window[1:]}.", style="italic")
    return text
