"""User text is data: it becomes Content that is never parsed as markup.

Stored text was already cleaned (p2pmarket.text); stripping again when rendering
costs little and protects against rows written by older versions or other tools.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content

from p2pmarket.text import strip_controls


def said(state: str) -> str:
    """A status or a step as words: 'handed_over' → 'handed over', 'accept-claim' →
    'accept claim' (the market's names for them are for scripts)."""
    return state.replace("_", " ").replace("-", " ")


def plain(text: object) -> Content:
    """Any value as literal text: `[@click=app.quit]x` shows as written and runs nothing."""
    return Content(strip_controls(str(text)))


def data(text: object, style: str = "") -> Text:
    """User text, newlines kept, as a rich Text to append into a larger Text or Table."""
    return Text(strip_controls(str(text)), style=style)


def line(text: object, limit: int = 200) -> Text:
    """One line of user text for a table cell or a header, newlines folded.

    A rich Text (never parsed as markup) because DataTable measures Text to size columns.
    """
    value = strip_controls(str(text)).replace("\n", " ")
    return Text(value if len(value) <= limit else value[: limit - 1] + "…")


def cut(text: object, width: int) -> Text:
    """One line of user text in at most `width` cells (a Chinese character takes two)."""
    value = line(text)
    value.truncate(width, overflow="ellipsis")
    return value
