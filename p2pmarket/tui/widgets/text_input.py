"""The one text input of the app: what is pasted passes the cleaning rule before it lands.

Typed keys are printable already (Input takes only printable keys); a paste carries
whatever the clipboard held, escape sequences and bidi overrides included.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from p2pmarket.text import strip_controls


class TextInput(Input):
    def _on_paste(self, event: events.Paste) -> None:
        # Input's own handler would run after this one on the raw text: stop it.
        event.prevent_default()
        super()._on_paste(events.Paste(strip_controls(event.text)))
        event.stop()
