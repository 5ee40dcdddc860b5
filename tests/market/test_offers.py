"""The offer use cases of the Actor on a real store, the market's tick expiring offers,
and a store from before offers upgraded to them."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlmodel import select

from p2pmarket import config as config_mod
from p2pmarket.clock import HOUR, FixedClock
from p2pmarket.errors import Refused
from p2pmarket.market import Market, records
from p2pmarket.models import ChatMode, Listing, Offer, Tier
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION
from tests.conftest import START

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def people(neighbours):
    """Bob buys from Lin (two piano lessons at ¥150) in trade mode; Bob holds ¥1,000."""
    bob, lin, listing = neighbours
    bob.set_chat_mode("lin", ChatMode.trade)
    bob.set_tier("lin", Tier.acquaintance)
    return bob, lin, listing


def test_haggle_to_an_order_then_pay_it_with_the_second_confirmation(people):
    bob, lin, listing = people
    made = bob.make_offer(listing.id, 120_00, quantity=2, note="Saturdays")
    counter = lin.answer_offer(made.id, "counter", unit_price=135_00)
    assert [o.status for o in bob.list_offers()] == ["open", "countered"]
    assert bob.list_offers(open_only=True)[0].actions("bob") == ["accept", "decline", "counter"]
    done = bob.answer_offer(counter.id, "accept")
    now = bob.order_now(done.order_id)
    assert (now.order.status, now.order.amount, now.order.unit_price) == (
        "accepted",
        270_00,
        135_00,
    )
    assert now.actions == ["cancel", "pay"]
    [preview] = bob.preview_payments([done.order_id])
    assert (preview.amount, preview.to, preview.balance_after) == (270_00, "lin", 730_00)
    assert bob.pay(done.order_id).status == "paid"
    # The conversation shows each offer as its own line, with where it stands now.
    lines = [m for m in lin.conversation("bob").view.messages if m.kind == "offer"]
    assert [m.offer.status for m in lines if m.offer] == ["countered", "accepted"]


def test_the_market_tick_expires_offers_at_48_hours(people, market):
    bob, lin, listing = people
    made = bob.make_offer(listing.id, 100_00)
    market.clock.advance(47 * HOUR)
    market.tick()
    assert lin.offer(made.id).status == "open"
    market.clock.advance(HOUR)
    market.tick()
    expired = lin.offer(made.id)
    assert (expired.status, expired.decided_at, expired.automatic) == (
        "expired",
        made.expires_at,
        True,
    )
    with pytest.raises(Refused, match="it is expired"):
        lin.answer_offer(made.id, "accept")


def test_a_seller_sets_a_floor_and_price_firm_and_buyers_never_see_the_floor(people):
    bob, lin, listing = people
    assert lin.set_offer_policy(listing.id, floor=90_00).floor == 90_00
    assert bob.offer_policy(listing.id).floor is None
    assert bob.make_offer(listing.id, 80_00).state(0) == "declined automatically"
    lin.set_offer_policy(listing.id, firm=True)
    assert bob.offer_policy(listing.id).firm
    with pytest.raises(Refused, match="price firm"):
        bob.make_offer(listing.id, 150_00)


@pytest.mark.sqlite_only
def test_a_store_from_before_offers_is_upgraded_and_takes_them(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v1.db", home / "market.db")
    raw = sqlite3.connect(home / "market.db")
    listings = raw.execute("SELECT count(*) FROM listing").fetchone()[0]
    raw.close()
    store = Store.open(config_mod.resolve(home=home))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as s:
            rows = s.exec(select(Listing)).all()
            assert len(rows) == listings
            assert {(r.offer_floor, r.price_firm) for r in rows} == {(None, False)}
            assert s.exec(select(Offer)).all() == []
        market = Market(store, FixedClock(START))
        demo = market.actor("demo", "market-demo-2026")
        mine = next(r for r in rows if r.seller_id == demo.user.id)
        assert demo.set_offer_policy(mine.id, floor=1_00, firm=True).firm
        report = records.verify(market)
        assert report.ok, report.problems
    finally:
        store.close()
