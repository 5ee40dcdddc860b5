"""What needs attention: orders waiting on me, running timers, the mediation queue."""

import pytest

from p2pmarket.errors import Refused
from p2pmarket.models import User
from p2pmarket.services.money import attention
from p2pmarket.services.trust import privacy
from tests.conftest import DISPUTE, make_listing, make_user
from tests.services.test_orders import Market


def _user(store, who):
    with store.read() as s:
        return s.get(User, who.id)


def test_waiting_on_me_follows_the_state_machine(store, clock):
    market = Market(store, clock)
    o = market.order()
    with store.read() as s:
        seller_rows = attention.my_open_orders(s, s.get(User, market.seller.id))
        buyer_rows = attention.my_open_orders(s, s.get(User, market.buyer.id))
    assert seller_rows[0].steps == ("accept",)
    assert buyer_rows[0].steps == ()
    market.act(market.seller, o.id, "accept")
    market.act(market.buyer, o.id, "pay")
    with store.read() as s:
        rows = attention.my_open_orders(s, s.get(User, market.seller.id))
        timers = attention.deadlines([r.order for r in rows], clock.now())
    assert rows[0].steps == ("deliver",)
    assert {t.timer for t in timers} == {"revoke window", "delivery deadline"}


def test_mediation_queue_is_for_mediators_and_skips_their_own(store, clock):
    market = Market(store, clock)
    o = market.paid_order()
    market.act(market.buyer, o.id, "dispute", opening=DISPUTE)
    with store.read() as s:
        queue = attention.mediation_queue(s, s.get(User, market.mediator.id))
        assert [q.id for q in queue] == [o.id]
        with pytest.raises(Refused, match="for mediators"):
            attention.mediation_queue(s, s.get(User, market.buyer.id))


def test_rough_offsets_are_coarse_steps(store, clock):
    me = make_user(store, clock, "viewer", lat=31.2290, lon=121.4480)
    # The map shows where the listing lies: the seller's public point, ~1 km north.
    seller = make_user(
        store, clock, "seller", lat=31.2350, lon=121.4500, public=(31.2380, 121.4480)
    )
    listing = make_listing(store, clock, seller)
    with store.read() as s:
        offsets = privacy.rough_offsets(s, _user(store, me), [listing.id], step_km=0.5)
        tiny = privacy.rough_offsets(s, _user(store, me), [listing.id], step_km=0.001)
    assert offsets == {listing.id: (0, 2)}
    # Never finer than the minimum step, however the caller asks.
    assert tiny == {listing.id: (0, 4)}
