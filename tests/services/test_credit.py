"""Two-dimensional credit: rules, anti-gaming weights, deterministic recomputation."""

from itertools import pairwise

import pytest

from p2pmarket.clock import DAY
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import CreditEvent, Tier, User
from p2pmarket.services.records import chain
from p2pmarket.services.trust import chat, contacts, credit, feedback
from p2pmarket.store.engine import Store
from tests.services.trust_helpers import completed, order, person


def _recompute(store, clock, user):
    with store.write() as s:
        return credit.recompute(s, clock, user.id)


def _scores(store, user):
    with store.read() as s:
        return credit.scores(s, user.id)


def _sources(store, user):
    with store.read() as s:
        return {e.source: e.delta for e in credit.history(s, user.id)}


def test_new_users_start_at_the_base(store, clock):
    user = person(store, clock, "newbie")
    assert tuple(_scores(store, user)) == (600, 650)
    assert _recompute(store, clock, user) == []


def test_completed_orders_count_less_with_the_same_partner(store, clock):
    seller, buyer, other = (person(store, clock, h) for h in ("seller", "buyer", "other"))
    ids = [completed(store, clock, buyer, seller, 100_00) for _ in range(3)]
    fresh = completed(store, clock, other, seller, 100_00)
    _recompute(store, clock, seller)
    got = _sources(store, seller)
    assert [got[f"order:{i}"] for i in ids] == [12, 6, 3]  # 1, 1/2, 1/4
    assert got[f"order:{fresh}"] == 12  # a new partner counts fully
    assert [got[f"order:{i}:on_time"] for i in ids] == [4, 2, 1]
    with store.read() as s:
        reasons = [e.reason for e in credit.history(s, seller.id)]
    assert any("2nd with them, counts 0.5x" in r for r in reasons)


def test_volume_and_age_add_transaction_credit(store, clock):
    seller, buyer = person(store, clock, "seller"), person(store, clock, "buyer")
    completed(store, clock, buyer, seller, 300_00)  # log2(1 + 3) = 2 doublings → 12 points
    clock.advance(95 * DAY)  # 3 whole months → 9 points
    _recompute(store, clock, buyer)
    got = _sources(store, buyer)
    assert got["volume"] == 12 and got["age"] == 9 and got[next(iter(got))] == 12
    assert _scores(store, buyer).transaction == 600 + 12 + 12 + 9


def test_refunds_and_lost_disputes(store, clock):
    seller, buyer = person(store, clock, "seller"), person(store, clock, "buyer")
    missed = order(
        store,
        clock,
        buyer,
        seller,
        path=("accepted", "paid", "refunded"),
        actors={"refunded": None},
    )
    revoked = order(store, clock, buyer, seller, path=("accepted", "paid", "refunded"))
    released = order(
        store, clock, buyer, seller, path=("accepted", "paid", "delivered", "disputed", "completed")
    )
    split = order(
        store,
        clock,
        buyer,
        seller,
        path=("accepted", "paid", "disputed", "resolved"),
        note="split 50/50",
    )
    _recompute(store, clock, seller)
    _recompute(store, clock, buyer)
    s, b = _sources(store, seller), _sources(store, buyer)
    assert s[f"order:{missed}:refund"] == -30 and f"order:{revoked}:refund" not in s
    assert b[f"order:{revoked}:refund"] == -3 and f"order:{missed}:refund" not in b
    assert b[f"order:{released}:dispute"] == -40 and f"order:{released}:dispute" not in s
    assert f"order:{split}:dispute" not in s and f"order:{split}:dispute" not in b


def test_reviews_only_from_completed_paid_orders_one_per_side(store, clock):
    seller, buyer = person(store, clock, "seller"), person(store, clock, "buyer")
    stranger = person(store, clock, "stranger")
    pending = order(store, clock, buyer, seller, path=("accepted", "paid"))
    done = completed(store, clock, buyer, seller)
    with store.write() as s:
        me = s.get(User, buyer.id)
        with pytest.raises(Refused, match="reviews open once"):
            feedback.review(s, clock, me, pending, 5, "great")
        with pytest.raises(Invalid):
            feedback.review(s, clock, s.get(User, stranger.id), done, 5, "I wasn't there")
        with pytest.raises(Invalid):
            feedback.review(s, clock, me, done, 6, "too many stars")
        view = feedback.review(s, clock, me, done, 1, "never showed\x1b[2J up")
        assert view.subject == "seller" and "\x1b" not in view.text
    with store.write() as s, pytest.raises(Refused, match="one review per side"):
        feedback.review(s, clock, s.get(User, buyer.id), done, 5, "changed my mind")
    with store.write() as s:  # the other side may review too
        feedback.review(s, clock, s.get(User, seller.id), done, 5, "paid on time")
    assert _scores(store, seller).social == 650 - 20
    assert _scores(store, buyer).social == 650 + 10


def test_repeated_reviews_from_the_same_person_count_less(store, clock):
    seller, fan = person(store, clock, "seller"), person(store, clock, "fan")
    for _ in range(3):
        done = completed(store, clock, fan, seller)
        with store.write() as s:
            feedback.review(s, clock, s.get(User, fan.id), done, 5, "great")
    assert _scores(store, seller).social == 650 + 10 + 5 + 2  # round(2.5) == 2


def test_ratings_average_the_stars_and_count_the_reviews_of_each_person(store, clock):
    seller, a, b = (person(store, clock, h) for h in ("seller", "amy", "bob"))
    for who, stars in ((a, 5), (b, 4), (a, 4)):
        done = completed(store, clock, who, seller)
        with store.write() as s:
            feedback.review(s, clock, s.get(User, who.id), done, stars, "ok")
    with store.read() as s:
        rated = feedback.ratings(s, [seller.id, a.id, b.id])
    assert rated == {seller.id: feedback.Rating(4.3, 3)}  # 13 / 3; no one reviewed amy or bob
    assert rated[seller.id].said() == "★4.3 (3)"


def test_one_report_per_reporter_and_only_upheld_ones_count(store, clock):
    target, reporter = person(store, clock, "target"), person(store, clock, "reporter")
    other = person(store, clock, "other")
    judge = person(store, clock, "judge", role="mediator")
    with store.write() as s:
        first = feedback.report(s, clock, s.get(User, reporter.id), s.get(User, target.id), "rude")
    with store.write() as s, pytest.raises(Refused, match="one report per person"):
        feedback.report(s, clock, s.get(User, reporter.id), s.get(User, target.id), "again")
    with store.write() as s:
        second = feedback.report(s, clock, s.get(User, other.id), s.get(User, target.id), "meh")
        with pytest.raises(Refused):
            feedback.resolve_report(s, clock, s.get(User, other.id), first.id, upheld=True)
        feedback.resolve_report(s, clock, s.get(User, judge.id), first.id, upheld=True)
        feedback.resolve_report(s, clock, s.get(User, judge.id), second.id, upheld=False)
    assert _scores(store, target).social == 650 - 45


def test_blocks_count_only_from_people_who_dealt_with_the_user(store, clock):
    target = person(store, clock, "target")
    talked = person(store, clock, "talked")
    never = person(store, clock, "never")
    with store.write() as s:
        chat.send(
            s,
            clock,
            s.get(User, target.id),
            s.get(User, talked.id),
            "buy my stuff",
            settings=Settings(),
        )
    for blocker in (talked, never):
        with store.write() as s:
            contacts.set_tier(
                s, clock, s.get(User, blocker.id), s.get(User, target.id), Tier.blocked
            )
    assert _scores(store, target).social == 650 - 6
    with store.write() as s:  # lifting the block appends the reversal
        contacts.set_tier(s, clock, s.get(User, talked.id), s.get(User, target.id), Tier.stranger)
    assert _scores(store, target).social == 650
    with store.read() as s:
        deltas = [(e.source, e.delta) for e in credit.history(s, target.id)]
    assert deltas == [(f"block:{talked.id}", -6), (f"block:{talked.id}", 6)]


def test_block_penalty_is_capped(store, clock):
    target = person(store, clock, "target")
    for i in range(20):
        other = person(store, clock, f"other{i}")
        with store.write() as s:
            chat.send(
                s,
                clock,
                s.get(User, target.id),
                s.get(User, other.id),
                f"hello number {i}",
                settings=Settings(),
            )
            contacts.set_tier(s, clock, s.get(User, other.id), s.get(User, target.id), Tier.blocked)
    assert _scores(store, target).social == 650 - 90


def test_recompute_is_idempotent_and_matches_compute(store, clock):
    seller, buyer = person(store, clock, "seller"), person(store, clock, "buyer")
    for _ in range(4):
        completed(store, clock, buyer, seller, 250_00)
    clock.advance(200 * DAY)
    first = _recompute(store, clock, seller)
    assert first and _recompute(store, clock, seller) == []
    with store.read() as s:
        assert credit.compute(s, clock, seller.id) == credit.scores(s, seller.id)
        events = s.exec(CreditEvent.__table__.select()).all()
    assert all(e.score_after >= 350 for e in events)


def _script(store, clock, *, recompute_often: bool):
    """The same market history, recomputed once at the end or after every step."""
    a, b, c = (person(store, clock, h) for h in ("ann", "ben", "cat"))
    steps = [
        lambda: completed(store, clock, a, b, 120_00),
        lambda: completed(store, clock, a, b, 80_00),
        lambda: completed(store, clock, c, b, 40_00),
        lambda: order(
            store, clock, c, b, path=("accepted", "paid", "refunded"), actors={"refunded": None}
        ),
        lambda: clock.advance(70 * DAY),
    ]
    for step in steps:
        step()
        if recompute_often:
            _recompute(store, clock, b)
    _recompute(store, clock, b)
    with store.read() as s:
        return credit.scores(s, b.id), sorted(
            (e.source, e.dimension) for e in credit.history(s, b.id)
        )


def test_scores_are_a_function_of_events_not_of_when_recomputed(tmp_path, clock):
    from p2pmarket.clock import FixedClock
    from tests.conftest import fresh_config

    results = []
    for name, often in (("once", False), ("often", True)):
        store = Store.open(fresh_config(tmp_path / name))
        try:
            results.append(_script(store, FixedClock(clock.now()), recompute_often=often))
        finally:
            store.close()
    (once, once_keys), (often, often_keys) = results
    assert once == often
    assert set(once_keys) <= set(often_keys)


def test_credit_events_are_hash_chained(store, clock):
    seller, buyer = person(store, clock, "seller"), person(store, clock, "buyer")
    completed(store, clock, buyer, seller)
    _recompute(store, clock, seller)
    with store.read() as s:
        rows = s.exec(CreditEvent.__table__.select().order_by(CreditEvent.__table__.c.id)).all()
    assert rows and all(len(r.hash) == 64 for r in rows)
    # One chain per person: each row links to that person's row before it.
    mine = [r for r in rows if r.user_id == seller.id]
    assert len(mine) >= 2 and mine[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(mine))


def test_settings_argument_is_optional(store, clock):
    user = person(store, clock, "someone")
    with store.read() as s:
        assert credit.compute(s, clock, user.id, Settings()) == credit.compute(s, clock, user.id)


def test_scores_for_matches_scores_in_one_batch(store, clock, monkeypatch):
    seller, buyer, newbie = (person(store, clock, h) for h in ("seller", "buyer", "newbie"))
    for _ in range(2):
        completed(store, clock, buyer, seller, 150_00)
    clock.advance(100 * DAY)
    _recompute(store, clock, seller)
    _recompute(store, clock, buyer)
    monkeypatch.setattr(credit, "SCORES_BATCH", 2)  # several statements, same answer
    ids = [seller.id, buyer.id, newbie.id]
    with store.read() as s:
        batched = credit.scores_for(s, [*ids, seller.id])
        assert batched == {i: credit.scores(s, i) for i in ids}
        assert credit.scores_for(s, []) == {}
    assert tuple(batched[newbie.id]) == (600, 650)
    assert batched[seller.id].transaction > 600
