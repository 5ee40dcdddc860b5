"""The trust use cases of market.Actor, on a real store: what each adds to the services."""

from __future__ import annotations

from dataclasses import replace

import pytest

from p2pmarket.config import Settings
from p2pmarket.errors import Refused
from p2pmarket.market import Actor, Market, trust
from p2pmarket.models import ChatMode, Tier
from p2pmarket.store.engine import Store
from tests.services.trust_helpers import completed, person


@pytest.fixture
def amy_bob(market, store, clock):
    """Two verified people who may trade; amy sells, bob pays."""
    person(store, clock, "amy")
    person(store, clock, "bob")
    return market.trusted_actor("amy"), market.trusted_actor("bob")


def test_the_mixins_of_actor_share_no_use_case_name():
    # Actor is all four mixins: a name in two of them would silently hide one use case.
    seen: dict[str, str] = {}
    for mixin in Actor.__bases__:
        for name in vars(mixin):
            if not name.startswith("__"):
                assert name not in seen, f"{name} in {seen.get(name)} and {mixin.__name__}"
                seen[name] = mixin.__name__


def test_a_message_names_the_recipient_as_stored(amy_bob):
    amy, _bob = amy_bob
    sent = amy.send_message("  BOB ", "is the piano still free?")
    assert sent.to == "bob" and sent.to_json() == sent.message.to_json()
    assert [c.other for c in amy.conversations()] == ["bob"]


def test_the_conversation_offers_pay_only_to_the_payer(amy_bob):
    amy, bob = amy_bob
    assert amy.conversation("bob").payable is None
    amy.set_chat_mode("bob", ChatMode.trade)
    asked = amy.request_payment("bob", 80_00, note="tuning")
    mine, theirs = amy.conversation("bob"), bob.conversation("amy")
    assert mine.view.order_id == theirs.view.order_id == asked.order_id
    assert mine.payable is None and theirs.payable == asked.order_id
    assert theirs.view.messages[-1].kind == "request"


def test_blocking_from_chat_shuts_the_conversation(amy_bob):
    amy, bob = amy_bob
    amy.send_message("bob", "hello there")
    assert bob.set_tier("amy", Tier.blocked).tier == "blocked"
    assert [(c.handle, c.tier) for c in bob.contacts()] == [("amy", "blocked")]
    with pytest.raises(Refused, match="does not take messages from you"):
        amy.send_message("bob", "hello again")


def test_switching_a_fact_shows_what_others_then_see(amy_bob):
    amy, _bob = amy_bob
    assert "credit" in amy.privacy().public.published
    hidden = amy.set_fact("credit", False)
    assert not next(f for f in hidden.settings.facts if f.fact == "credit").published
    assert "credit" not in hidden.public.published
    assert hidden.public.distance is None  # as nobody in particular sees amy
    assert "credit" not in amy.profile("amy").to_json()


def test_credit_report_is_private_unless_published_or_own(market, amy_bob):
    amy, bob = amy_bob
    assert trust.credit_report(market, "amy").handle == "amy"
    amy.set_fact("credit", False)
    with pytest.raises(Refused, match="amy does not publish their credit"):
        trust.credit_report(market, "amy")
    with pytest.raises(Refused, match="amy does not publish their credit"):
        bob.credit_report("AMY")
    assert amy.credit_report("amy").scores == trust.credit_report(market, "bob").scores


def test_credit_report_shows_the_latest_events(market, store, clock, amy_bob):
    _amy, bob = amy_bob
    for _ in range(3):
        completed(store, clock, bob.user, market.trusted_actor("amy").user)
    everything = trust.credit_report(market, "amy", limit=10_000).history
    assert len(everything) > 2
    latest = trust.credit_report(market, "amy", limit=2)
    assert latest.history == everything[-2:]
    assert latest.to_json()["transaction"] == latest.scores.transaction
    assert trust.credit_report(market, "amy", limit=0).history == ()


def test_tier_limits_are_the_markets(config, clock):
    settings = replace(Settings(), limit_stranger=50_00, limit_trusted=9_000_00)
    store = Store.open(replace(config, settings=settings))
    try:
        limits = trust.tier_limits(Market(store, clock))
    finally:
        store.close()
    assert limits == {"stranger": 50_00, "acquaintance": 2_000_00, "trusted": 9_000_00}


def test_time_earns_account_age_credit_at_the_tick_for_everyone_never_on_a_read(market, amy_bob):
    from p2pmarket.services.trust import credit
    from p2pmarket.services.trust.credit import MONTH

    amy, bob = amy_bob
    before = {h: trust.credit_report(market, h).scores.transaction for h in ("amy", "bob")}
    market.clock.advance(2 * MONTH + 1)
    # A read moves nothing: every face shows the same recorded score at one moment.
    assert amy.credit_report("bob").scores.transaction == before["bob"]
    assert bob.credit_report("bob").scores.transaction == before["bob"]
    with market.store.read() as session:  # both are due; a sweep takes at most `limit`
        due = credit.age_due(session, market.clock)
        assert len(due) == 2 and credit.age_due(session, market.clock, limit=1) == due[:1]
    market.tick()
    after = {h: trust.credit_report(market, h).scores.transaction for h in ("amy", "bob")}
    assert after == {h: score + 6 for h, score in before.items()}  # 3 points a month
    assert "account 2 months old" in [e.reason for e in bob.credit_report("bob").history]
    with market.store.read() as session:
        assert credit.age_due(session, market.clock) == []  # written once
