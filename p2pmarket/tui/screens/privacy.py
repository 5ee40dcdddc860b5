"""Privacy: which real facts others may see, and a preview of what they see."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Label, Static, Switch

from p2pmarket.models import User
from p2pmarket.services import privacy
from p2pmarket.tui.plain import plain
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.profile import badges, profile_facts


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
                yield Static("", id="privacy-note")
            with Vertical(id="privacy-preview", classes="card"):
                yield Static("", id="preview")
        yield Footer()

    def reload(self) -> None:
        with self.read() as session:
            me = session.get(User, self.market.user.id)
            view = privacy.privacy_view(me)
            public = privacy.public_profile(session, None, me.id, self.market.clock)
        self._draw(view, public)

    def _draw(self, view: privacy.PrivacyView, public: privacy.PublicProfile) -> None:
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
        box.mount(Static(profile_facts(public), classes="facts"))

    @on(Switch.Changed)
    def _switched(self, event: Switch.Changed) -> None:
        fact = (event.switch.id or "").removeprefix("fact-")

        def change():
            with self.write() as session:
                me = session.get(User, self.market.user.id)
                privacy.set_fact(session, me, fact, event.value)
                public = privacy.public_profile(session, None, me.id, self.market.clock)
                return privacy.privacy_view(me), public

        done = self.attempt(change)
        if done is None:
            self.reload()
        else:
            self._draw(*done)
