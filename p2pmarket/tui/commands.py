"""The command palette: every section, and every action of the screen it was opened from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


def _screen_bindings(screen) -> Iterator[Binding]:
    seen: set[str] = set()
    for cls in type(screen).__mro__:
        for binding in getattr(cls, "BINDINGS", ()) if "BINDINGS" in vars(cls) else ():
            if isinstance(binding, Binding) and binding.action not in seen:
                seen.add(binding.action)
                yield binding


class ScreenCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable]]:
        app, screen = self.app, self.screen
        if getattr(app, "user", None) is None:
            return []
        found: list[tuple[str, str, Callable]] = [
            (f"Go to {label}", f"Open the {label.lower()} screen", partial(app.action_goto, name))
            for name, label in app.screen_names()
        ]
        found += [
            ("Switch user", "Log in as someone else", app.action_switch_user),
            ("Help", "Keys and screens", app.action_help),
        ]
        section = getattr(screen, "NAME", "") or "Screen"
        for binding in _screen_bindings(screen):
            if binding.action.startswith("app."):
                continue
            found.append(
                (
                    f"{section}: {binding.description}",
                    f"key {binding.key}",
                    partial(screen.run_action, binding.action),
                )
            )
        extra = getattr(screen, "palette_commands", None)
        if extra is not None:
            found += extra()
        return found

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
