"""A Static that lays the screen out again only when what it shows changed.

Textual's Static.update lays out the whole screen (every widget's size and place) even
when the new content is the old one. A kept screen shown again after someone committed
reads its data anew, and mostly writes the same words into its panes: each such update
cost the switch a layout (bench tui: screen switch).
"""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static

# What a str or a Text shows, comparable: the key MarketTable draws a cell again by.
from p2pmarket.tui.widgets.table import content_key


class SteadyStatic(Static):
    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        look = content_key(content)
        if look is not None and look == content_key(self.content):
            return
        super().update(content, layout=layout)
