"""The money gate: tier × amount × verification × credit × facts × mode, limits and warnings."""

from dataclasses import replace

import pytest

from p2pmarket import money
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import ChatMode, Tier, User
from p2pmarket.services.trust import chat, contacts, feedback, gate, privacy
from tests.services.trust_helpers import aged, completed, order, paid, person

# Tier limits alone: no new-account caps in the way.
NO_CAPS = replace(Settings(), account_stages=((0, 0, None),))


@pytest.fixture
def pair(store, clock):
    return person(store, clock, "payer"), person(store, clock, "payee")


def _tier(store, clock, owner: User, other: User, tier: Tier) -> None:
    with store.write() as s:
        contacts.set_tier(s, clock, s.get(User, owner.id), s.get(User, other.id), tier)


def _check(store, clock, payer, payee, amount, settings=NO_CAPS, **kw):
    with store.write() as s:
        return gate.check_money(
            s, clock, s.get(User, payer.id), s.get(User, payee.id), amount, settings=settings, **kw
        )


@pytest.mark.parametrize(
    ("tier", "amount", "outcome"),
    [
        (Tier.stranger, 100_00, "ok"),
        (Tier.stranger, 159_99, "ok"),
        (Tier.stranger, 160_00, "warn"),
        (Tier.stranger, 200_00, "warn"),
        (Tier.stranger, 200_01, "over_limit"),
        (Tier.acquaintance, 1_500_00, "ok"),
        (Tier.acquaintance, 1_600_00, "warn"),
        (Tier.acquaintance, 2_000_01, "over_limit"),
        (Tier.trusted, 15_000_00, "ok"),
        (Tier.trusted, 20_000_00, "warn"),
        (Tier.trusted, 20_000_01, "over_limit"),
        (Tier.blocked, 1, "blocked"),
    ],
)
def test_payers_tier_sets_the_limit(store, clock, pair, tier, amount, outcome):
    payer, payee = pair
    if tier != Tier.stranger:
        _tier(store, clock, payer, payee, tier)
    if outcome in ("ok", "warn"):
        verdict = _check(store, clock, payer, payee, amount)
        assert verdict.tier == tier
        assert verdict.limit == gate.tier_limit(NO_CAPS, tier)
        assert (verdict.warning is not None) == (outcome == "warn")
    else:
        with pytest.raises(Refused) as exc:
            _check(store, clock, payer, payee, amount)
        assert exc.value.code == outcome
        if outcome == "over_limit":  # nothing open yet: the amount alone is over
            assert f"; {money.fmt(amount)} is more. " in exc.value.message


def test_only_the_payers_tier_counts(store, clock, pair):
    payer, payee = pair
    _tier(store, clock, payee, payer, Tier.trusted)  # the payee trusting the payer lifts nothing
    with pytest.raises(Refused, match="stranger"):
        _check(store, clock, payer, payee, 500_00)


def test_blocked_either_way_means_never(store, clock, pair):
    payer, payee = pair
    _tier(store, clock, payer, payee, Tier.trusted)
    _tier(store, clock, payee, payer, Tier.blocked)
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 1)
    assert exc.value.code == "blocked"
    assert "¥0.00" in exc.value.message


def test_refusal_says_limit_why_and_what_lifts_it(store, clock, pair):
    payer, payee = pair
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 350_00)
    msg = exc.value.message
    assert "¥200.00" in msg and "stranger" in msg and "¥350.00" in msg
    assert "contact set-tier payee acquaintance" in msg and "¥2,000.00" in msg


def test_warning_names_the_share_of_the_limit(store, clock, pair):
    payer, payee = pair
    verdict = _check(store, clock, payer, payee, 170_00)
    assert (
        verdict.warning is not None and "85 %" in verdict.warning and "¥200.00" in verdict.warning
    )


def test_open_escrow_with_the_same_payee_counts_against_the_limit(store, clock, pair):
    payer, payee = pair
    paid(store, clock, payer, payee, 150_00)
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 100_00)
    assert "¥150.00 already open" in exc.value.message
    assert _check(store, clock, payer, payee, 50_00).open_amount == 150_00
    # Completed orders are no longer open.
    completed(store, clock, payer, payee, 150_00)
    assert _check(store, clock, payer, payee, 50_00).open_amount == 150_00


@pytest.mark.parametrize("side", ["payer", "payee"])
def test_unverified_side_cannot_pay_or_be_paid(store, clock, side):
    payer = person(store, clock, "payer", verified=side != "payer")
    payee = person(store, clock, "payee", verified=side != "payee")
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 1_00)
    assert exc.value.code == "unverified"
    assert f"user verify {side}" in exc.value.message


def test_actor_is_addressed_as_you(store, clock):
    payer = person(store, clock, "payer", verified=False)
    payee = person(store, clock, "payee")
    with store.read() as s:
        me = s.get(User, payer.id)
        with pytest.raises(Refused, match="your real name"):
            gate.check_money(s, clock, me, s.get(User, payee.id), 100, settings=NO_CAPS)
        with pytest.raises(Refused, match="payer's real name"):
            gate.check_money(
                s,
                clock,
                me,
                s.get(User, payee.id),
                100,
                settings=NO_CAPS,
                actor=s.get(User, payee.id),
            )


def test_hiding_every_fact_locks_money(store, clock, pair):
    payer, payee = pair
    with store.write() as s:
        me = s.get(User, payee.id)
        for fact in privacy.FACTS:
            privacy.set_fact(s, me, fact, False)
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 1_00)
    assert exc.value.code == "no_published_facts"
    with store.write() as s:
        privacy.set_fact(s, s.get(User, payee.id), "member_since", True)
    assert _check(store, clock, payer, payee, 1_00).warning is None


def test_low_social_credit_locks_money(store, clock, pair):
    payer, payee = pair
    mediator = person(store, clock, "judge", role="mediator")
    reporters = [person(store, clock, f"rep{i}") for i in range(3)]
    for n, reporter in enumerate(reporters, start=1):
        with store.write() as s:
            made = feedback.report(
                s, clock, s.get(User, reporter.id), s.get(User, payer.id), "scam"
            )
            feedback.resolve_report(s, clock, s.get(User, mediator.id), made.id, upheld=True)
        if n < 3:  # 650 - 45 - 45 = 560: still above 550
            _check(store, clock, payer, payee, 1_00)
    with pytest.raises(Refused) as exc:  # 650 - 135 = 515
        _check(store, clock, payer, payee, 1_00)
    assert exc.value.code == "credit_too_low"
    assert "social credit 515 is below 550" in exc.value.message


def test_low_transaction_credit_locks_money(store, clock, pair):
    payer, payee = pair
    buyer = person(store, clock, "buyer")
    for _ in range(2):  # seller missed the deadline twice: 600 - 60 = 540
        order(
            store,
            clock,
            buyer,
            payee,
            50_00,
            path=("accepted", "paid", "refunded"),
            actors={"refunded": None},
        )
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 1_00)
    assert exc.value.code == "credit_too_low"
    assert "payee's transaction credit 540" in exc.value.message


def test_chat_money_needs_trade_mode(store, clock, pair):
    payer, payee = pair
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 10_00, require_trade_mode=True)
    assert exc.value.code == "chat_mode"
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, payee.id), s.get(User, payer.id), ChatMode.trade)
    _check(store, clock, payer, payee, 10_00, require_trade_mode=True)
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, payer.id), s.get(User, payee.id), ChatMode.chat)
    with pytest.raises(Refused):
        _check(store, clock, payer, payee, 10_00, require_trade_mode=True)


def test_paying_yourself_is_invalid(store, clock, pair):
    payer, _ = pair
    with pytest.raises(Invalid):
        _check(store, clock, payer, payer, 1_00)


def test_new_accounts_rise_with_age_and_trades_with_different_people(store, clock, pair):
    payer, payee = pair
    _tier(store, clock, payer, payee, Tier.trusted)
    settings = Settings()
    with pytest.raises(Refused) as exc:
        _check(store, clock, payer, payee, 400_00, settings)
    msg = exc.value.message
    assert "¥300.00" in msg and "account is new (stage 1 of 4" in msg
    assert "rises to ¥1,000.00 once the account is 7 days old (in 7 days)" in msg
    assert "completed trades with 1 different person (0 so far)" in msg

    aged(clock, 7)
    with pytest.raises(Refused, match="0 so far"):  # age alone is not enough
        _check(store, clock, payer, payee, 400_00, settings)
    # Trading with each other counts for both sides.
    completed(store, clock, payer, payee, 10_00)
    verdict = _check(store, clock, payer, payee, 400_00, settings)
    assert verdict.limit == 1_000_00

    # Stage 3 needs 30 days and 3 different partners; the same partner again doesn't help.
    aged(clock, 30)
    completed(store, clock, payer, payee, 10_00)
    with pytest.raises(Refused, match="3 different people \\(1 so far\\)"):
        _check(store, clock, payer, payee, 2_000_00, settings)
    for i in range(2):
        other = person(store, clock, f"friend{i}")
        completed(store, clock, other, payer, 10_00)
        completed(store, clock, payee, other, 10_00)
    assert _check(store, clock, payer, payee, 2_000_00, settings).limit == 5_000_00
    aged(clock, 90)
    for i in range(2, 9):
        other = person(store, clock, f"friend{i}")
        completed(store, clock, other, payer, 10_00)
        completed(store, clock, payee, other, 10_00)
    assert _check(store, clock, payer, payee, 15_000_00, settings).limit == 20_000_00


def test_the_newer_side_caps_the_limit(store, clock):
    old = person(store, clock, "oldhand")
    other = person(store, clock, "partner")
    aged(clock, 400)
    for i in range(10):
        friend = person(store, clock, f"pal{i}")
        completed(store, clock, friend, old, 10_00)
    newbie = person(store, clock, "newbie")
    _tier(store, clock, old, newbie, Tier.trusted)
    with pytest.raises(Refused, match="newbie's account is new"):
        _check(store, clock, old, newbie, 500_00, Settings())
    del other


def test_money_status_summarises_for_headers(store, clock, pair):
    payer, payee = pair
    with store.read() as s:
        status = gate.money_status(
            s, clock, s.get(User, payer.id), s.get(User, payee.id), settings=NO_CAPS
        )
    assert status.allowed and status.limit == 200_00 and status.available == 200_00
    _tier(store, clock, payer, payee, Tier.blocked)
    with store.read() as s:
        status = gate.money_status(
            s, clock, s.get(User, payer.id), s.get(User, payee.id), settings=NO_CAPS
        )
    assert not status.allowed and status.limit == 0
