"""One band per listing: the editor, the listing screen, search rows and `price suggest` (#17)."""

from __future__ import annotations

import json

from sqlmodel import select
from typer.testing import CliRunner

from p2pmarket import money
from p2pmarket.cli import app as cli_app
from p2pmarket.models import Listing, User
from p2pmarket.services.market import demo, pricing
from p2pmarket.tui.app import MarketApp
from p2pmarket.tui.screens.editor import EditorScreen
from p2pmarket.tui.screens.listing import ListingScreen
from p2pmarket.tui.widgets.price_band import PriceBand
from tests.tui.helpers import SIZE, settle

NOW = "2026-11-01T09:00:00"  # the tests' fixed clock (tests/conftest.py START)


def _cli_band(config, handle: str, listing_id: int) -> dict:
    """`price suggest --listing ID --as HANDLE --json`, on the same home and clock."""
    result = CliRunner().invoke(
        cli_app,
        [
            "--home",
            str(config.home),
            "price",
            "suggest",
            "--listing",
            str(listing_id),
            "--as",
            handle,
            "--json",
        ],
        env={"P2PMARKET_PASSPHRASE": demo.demo_data()["passphrase"], "P2PMARKET_NOW": NOW},
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _band_of(got: dict) -> tuple:
    return got["p25"], got["p50"], got["p75"], got["basis"]


def _flat(widget) -> str:
    return " ".join(str(widget.render()).split())


async def test_a_listing_has_one_band_on_every_face(store, config, clock):
    demo.load_demo(store, clock)
    with store.read() as session:
        korg = session.exec(select(Listing).where(Listing.title.startswith("Korg metronome"))).one()
        seller = session.get(User, korg.seller_id).handle
    assert seller != "demo"  # the demo user sees it from their home, its seller from theirs

    # As the demo user: `price suggest --listing`, the listing screen and the search row.
    said = _cli_band(config, "demo", korg.id)
    band = pricing.Suggestion(**said)
    claim = pricing.compare(korg.price, band)
    assert band.against is not None and claim is not None and "metronome" in claim
    tui = MarketApp(config=config, clock=clock, user="demo")
    async with tui.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tui.push_screen(ListingScreen(korg.id))
        await settle(pilot)
        head = _flat(tui.screen.query_one("#listing-head"))
        prices = " · ".join(money.fmt(said[q]) for q in ("p25", "p50", "p75"))
        assert f"Suggested {prices} (p25 · median · p75): {claim}" in head, head
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        tui.screen.query_one("#radius").value = "30"
        await pilot.press(*"metronome")
        await settle(pilot)
        row = next(h for h in tui.screen.results.hits if h.id == korg.id)
        assert row.why.endswith(f" · {claim}"), row.why

    # As its seller: the editor's band is `price suggest --listing` of theirs.
    theirs = _cli_band(config, seller, korg.id)
    assert _band_of(theirs) != _band_of(said)  # around another home
    tui = MarketApp(config=config, clock=clock, user=seller)
    async with tui.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tui.push_screen(EditorScreen(korg.id))
        await settle(pilot)
        shown = tui.screen.query_one(PriceBand)
        assert shown.suggestion is not None
        assert _band_of(shown.suggestion.to_json()) == _band_of(theirs)
        assert f"Basis: {theirs['basis']}" in _flat(shown)
