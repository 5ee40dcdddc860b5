"""Privacy: which real facts others may see, and a preview of what they see."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Label, Static, Switch

from p2pmarket.services.trust import privacy
from p2pmarket.tui.plain import plain
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.profile import badges, profile_facts
from p2pmarket.tui.widgets.steady import SteadyStatic

if TYPE_CHECKING:
    from p2pmarket.market.trust import PrivacyPreview


class PrivacyScreen(MarketScreen):
    NAME = "Privacy"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="privacy"):
            with VerticalScroll(id="facts"):
                yield Static("Published facts", classes="section-title")
                for fact, (_column, label) in privacy.FACTS.items():
                    with Horizontal(classes="fact"):
                        yield Switch(id=f"fact-{fact}")
                        yield Label(label)
                yield SteadyStatic("", id="privacy-note")
            with Vertical(id="privacy-preview", classes="card"):
                yield SteadyStatic("", id="preview")
        yield MarketFooter()

    def reload(self) -> None:
        self._draw(self.actor.privacy())

    def _draw(self, preview: PrivacyPreview) -> None:
        view, public = preview.settings, preview.public
        for setting in view.facts:
            switch = self.query_one(f"#fact-{setting.fact}", Switch)
            with switch.prevent(Switch.Changed):
                switch.value = setting.published
        self.query_one("#privacy-note", Static).update(plain(view.note or ""))
        head = Text()
        head.append("What others see\n", style="bold")
        head.append(f"@{public.handle}\n")
        head.append_text(badges(public))
        self.query_one("#preview", Static).update(head)
        self.mount_preview(public)

    def mount_preview(self, public: privacy.PublicProfile) -> None:
        box = self.query_one("#privacy-preview", Vertical)
        for old in box.query(".facts"):
            old.remove()
        box.mount(Static(profile_facts(public, self.market.wall), classes="facts"))

    @on(Switch.Changed)
    def _switched(self, event: Switch.Changed) -> None:
        fact = (event.switch.id or "").removeprefix("fact-")

        done = self.attempt(lambda: self.actor.set_fact(fact, event.value))
        if done is None:
            self.reload()
            return
        self._draw(done)
        label = privacy.FACTS[fact][1]
        self.market.tell(
            f"Published: your {label} now shows to everyone who sees your profile."
            if event.value
            else f"Hidden: your {label} no longer shows to others."
        )
