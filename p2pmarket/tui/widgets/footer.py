"""The footer every screen shows: Textual's, rebuilt only when the keys it shows change.

Textual's Footer rebuilds (and restyles) all its keys each time the screen's bindings
signal a change, and opening a screen signals five to ten times (mount, focus, each
pane's own keys), mostly with the same keys as before (bench tui: screen switch). Here a
rebuild that would draw the same keys, in the same states, is skipped.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.dom import NoScreen
from textual.widgets import Footer


class MarketFooter(Footer):
    _drawn: Hashable = None

    def _keys(self) -> Hashable:
        """What compose would draw: each binding shown, enabled or not, and its words."""
        return self.show_command_palette, tuple(
            (b.key, b.action, b.description, b.show, b.group, enabled, tooltip)
            for _node, b, enabled, tooltip in self.screen.active_bindings.values()
        )

    async def recompose(self) -> None:
        try:
            if self.screen is not self.app.screen:
                # Its screen is closing (or covered): its widgets may be going, and its
                # keys would be asked of them (check_action). Shown again, it rebuilds.
                return
        except NoScreen:  # its screen was closed before the rebuild came round
            return
        keys = self._keys()
        if keys != self._drawn:
            self._drawn = keys
            await super().recompose()
