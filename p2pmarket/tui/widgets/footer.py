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

    def _keys(self) -> tuple[Hashable, dict[tuple[str, str], bool]]:
        """What compose would draw (each binding shown, and its words), and whether each
        key is enabled: a field taking focus disables the keys that would leave the screen,
        and a focused field's hidden keys come and go with the focus, unseen."""
        shown = [
            (b, enabled, tooltip)
            for _node, b, enabled, tooltip in self.screen.active_bindings.values()
            if b.show
        ]
        drawn = tuple((b.key, b.action, b.description, b.group, tip) for b, _e, tip in shown)
        enabled = {(b.key, b.action): e for b, e, _tip in shown}
        return (self.show_command_palette, drawn), enabled

    async def recompose(self) -> None:
        try:
            if self.screen is not self.app.screen:
                # Its screen is closing (or covered): its widgets may be going, and its
                # keys would be asked of them (check_action). Shown again, it rebuilds.
                return
        except NoScreen:  # its screen was closed before the rebuild came round
            return
        drawn, enabled = self._keys()
        if drawn != self._drawn:
            self._drawn = drawn
            await super().recompose()
            return
        # The same keys: only dim or light those whose state changed (a new key costs
        # its styling, ~10 ms each).
        for footer_key in self.query("FooterKey"):
            footer_key.disabled = not enabled.get((footer_key.key, footer_key.action), True)
