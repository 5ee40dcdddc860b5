"""A person as others see them: badges and published facts (listing, chat, privacy)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from p2pmarket import money
from p2pmarket.services.trust import privacy
from p2pmarket.tui.plain import data


def badges(profile: privacy.PublicProfile) -> Text:
    """Verified and credit badges, from published facts only."""
    out = Text()
    if profile.blocked:
        out.append(" blocked ", style="bold reverse red")
        return out
    if profile.verified:
        out.append(" ✓ verified ", style="bold reverse green")
        out.append(" ")
    if profile.credit_transaction is not None:
        out.append(f" trade {profile.credit_transaction} ", style="bold reverse blue")
        out.append(" ")
        out.append(f" social {profile.credit_social} ", style="bold reverse magenta")
    if not out.plain:
        out.append("no published badges", style="dim")
    return out


def profile_facts(profile: privacy.PublicProfile, wall: Callable[[int], str]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in profile.lines():
        # A distance is None in one's own preview: no viewer to measure from.
        if label in ("blocked", "credit", "verified") or value is None:
            continue
        if label == "member_since":
            value = wall(value)[:10]
        elif label == "spent":
            value = money.fmt(value)
        grid.add_row(Text(label.replace("_", " ")), data(value))
    return grid
