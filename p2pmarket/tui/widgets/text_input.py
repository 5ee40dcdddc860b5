"""The one text input of the app: what is pasted passes the cleaning rule before it lands.

Typed keys are printable already (Input takes only printable keys); a paste carries
whatever the clipboard held, escape sequences and bidi overrides included.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widgets import Input

from p2pmarket.text import strip_controls


class TextInput(Input):
    def _on_paste(self, event: events.Paste) -> None:
        # Input's own handler would run after this one on the raw text: stop it.
        event.prevent_default()
        super()._on_paste(events.Paste(strip_controls(event.text)))
        event.stop()

    def _watch_value(self, value: str) -> None:
        # Input's watcher sets its virtual size (its text's width, read when the cursor
        # scrolls it), which lays out the whole screen at every keystroke though no scrollbar
        # shows it: set first, quietly, that setting finds it unchanged. A box whose size
        # follows its text still lays out (Input's own `auto_dimensions` refresh).
        self.set_reactive(Input.virtual_size, Size(self.content_width, 1))
        super()._watch_value(value)
