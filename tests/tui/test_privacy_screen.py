"""Privacy: a switch publishes or hides a fact at once, and says which it did."""

from __future__ import annotations

from textual.widgets import Switch

from tests.tui.helpers import demo_app, settle


async def test_a_switch_says_what_it_published_and_what_others_now_see(store, config, clock):
    async with demo_app(store, config, clock, "p") as (app, pilot):
        switch = app.screen.query_one("#fact-real_name", Switch)
        was = switch.value
        switch.focus()
        await pilot.press("space")
        await settle(pilot)
        published = {f.fact: f.published for f in app.actor.privacy().settings.facts}
        assert published["real_name"] is (not was)
        said = [n.message for n in app._notifications][-1]
        assert said == (
            "Hidden: your real name no longer shows to others."
            if was
            else "Published: your real name now shows to everyone who sees your profile."
        )
