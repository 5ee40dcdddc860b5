"""The footer every screen shows: Textual's, rebuilt only when the keys it shows change.

Textual's Footer rebuilds (and restyles) all its keys each time the screen's bindings
signal a change, and opening a screen signals five to ten times (mount, focus, each
pane's own keys), mostly with the same keys as before (bench tui: screen switch). Here a
rebuild that would draw the same keys, in the same states, is skipped; and so is one that
would draw some of the keys built last, in their order: a text field taking focus hides
the letter keys (they type) and shows help as f1, and giving it up shows them again.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.dom import NoScreen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def _within(part: tuple, whole: tuple) -> bool:
    """`part`'s items all in `whole`, in the same order."""
    rest = iter(whole)
    return all(item in rest for item in part)


class MarketFooter(Footer):
    # What the keys were built from: (palette shown, each key's (action, words, group,
    # tooltip)).
    _drawn: Hashable = None

    def _keys(self) -> tuple[Hashable, dict[str, tuple[str, str, bool]]]:
        """What compose would draw (each binding shown, and its words: the first key of
        each action, as `?` for help and not f1 beside it), and per action its key, how the
        key reads and whether it is enabled: a field taking focus disables the keys that
        would leave the screen, and a focused field's hidden keys come and go with the
        focus, unseen."""
        shown, actions = [], set()
        for _node, b, enabled, tooltip in self.screen.active_bindings.values():
            if b.show and b.action not in actions:
                actions.add(b.action)
                shown.append((b, enabled, tooltip))
        drawn = tuple((b.action, b.description, b.group, tip) for b, _e, tip in shown)
        keys = {b.action: (b.key, self.app.get_key_display(b), e) for b, e, _tip in shown}
        return (self.show_command_palette, drawn), keys

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # Textual's keys are born compact, then bound to the footer's style once
                # mounted: two restyles of each key, for a style they end without. (The
                # palette's key is not bound: it stays compact.)
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    async def recompose(self) -> None:
        try:
            if self.screen is not self.app.screen:
                # Its screen is closing (or covered): its widgets may be going, and its
                # keys would be asked of them (check_action). Shown again, it rebuilds.
                return
        except NoScreen:  # its screen was closed before the rebuild came round
            return
        drawn, keys = self._keys()
        built = self._drawn
        if not self._reusable(drawn, built):
            self._drawn = drawn
            await super().recompose()
            return
        # Keys already built: only show or hide, dim or light them, or change the key an
        # action shows (help: `?`, f1 while a field has focus); a new key costs its
        # styling, ~10 ms each. The palette's key is not among them and stays.
        ours = {action for action, *_ in built[1]}
        for footer_key in self.query(FooterKey):
            if footer_key.action not in ours:
                continue
            shown = keys.get(footer_key.action)
            footer_key.display = shown is not None
            if shown is None:
                continue
            key, key_display, enabled = shown
            footer_key.disabled = not enabled
            if footer_key.key != key:
                footer_key.key, footer_key.key_display = key, key_display
                footer_key.refresh(layout=True)

    @staticmethod
    def _reusable(drawn: tuple, built: tuple | None) -> bool:
        """The keys to draw are some of those built, in order, none in a group (a group's
        label would stay)."""
        return (
            built is not None
            and drawn[0] == built[0]
            and all(group is None for _a, _d, group, _t in built[1])
            and _within(drawn[1], built[1])
        )
