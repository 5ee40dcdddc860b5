"""Contacts: tiers, listing, and the lookups others rely on."""

import pytest

from p2pmarket.clock import HOUR
from p2pmarket.errors import Invalid
from p2pmarket.models import Tier, User
from p2pmarket.services.trust import contacts
from tests.services.trust_helpers import completed, paid, person


def test_tiers_default_to_stranger_and_can_be_set(store, clock):
    amy, bo, cy = (person(store, clock, h) for h in ("amy", "bob", "cyd"))
    with store.write() as s:
        me = s.get(User, amy.id)
        assert contacts.tier(s, amy.id, bo.id) == Tier.stranger
        contacts.set_tier(s, clock, me, s.get(User, bo.id), contacts.parse_tier("Trusted"))
        contacts.set_tier(s, clock, me, s.get(User, cy.id), Tier.blocked)
        assert contacts.tier(s, amy.id, bo.id) == Tier.trusted
        assert contacts.tier(s, bo.id, amy.id) == Tier.stranger  # one-sided
        assert contacts.blocked_between(s, cy.id, amy.id)
        assert contacts.blocked_by(s, cy.id) == {amy.id}
        assert [(c.handle, c.tier) for c in contacts.list_contacts(s, me)] == [
            ("cyd", "blocked"),
            ("bob", "trusted"),
        ]
        with pytest.raises(Invalid):
            contacts.set_tier(s, clock, me, me, Tier.trusted)
    with pytest.raises(Invalid):
        contacts.parse_tier("friend")


def test_people_one_traded_with_are_listed_as_strangers_with_the_last_trade(store, clock):
    amy, bo, cy, dee = (person(store, clock, h) for h in ("amy", "bob", "cyd", "dee"))
    completed(store, clock, amy, bo)  # amy bought from bob
    clock.advance(HOUR)
    last = paid(store, clock, bo, amy, 50_00)  # then bob from amy: the newest counts
    completed(store, clock, cy, dee)  # not amy's
    with store.write() as s:
        me = s.get(User, amy.id)
        contacts.set_tier(s, clock, me, s.get(User, cy.id), Tier.trusted)
        listed = {c.handle: c for c in contacts.list_contacts(s, me)}
    assert list(listed) == ["bob", "cyd"]  # strangers first, then trusted; dee is not amy's
    bob = listed["bob"]
    assert (bob.tier, bob.updated_at) == ("stranger", None)  # never classified
    assert (bob.last_trade.order_id, bob.last_trade.status) == (last, "paid")
    assert bob.last_trade.said().startswith("paid ") and f"#{last} " in bob.last_trade.said()
    assert listed["cyd"].last_trade is None and listed["cyd"].updated_at == clock.now()
