"""A dispute's case on a real store: a reason is required, only the pair's chat lines may be
attached, one statement per side within 48 h (time moved by the clock), both inboxes told,
the notes chained and signed into verify, and the shares a mediator's decision gives."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from p2pmarket.clock import HOUR
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import User
from p2pmarket.services.money import orders
from p2pmarket.services.money.orders.disputes import Opening
from p2pmarket.services.records import audit
from p2pmarket.services.trust import chat, inbox
from p2pmarket.store.engine import Store
from tests.conftest import make_user
from tests.services.test_orders import SETTINGS, Market

disputes = orders.disputes


@pytest.fixture
def market(store, clock):
    return Market(store, clock)


def _say(market, sender, recipient, body):
    with market.store.write() as s:
        return chat.send(
            s,
            market.clock,
            s.get(User, sender.id),
            s.get(User, recipient.id),
            body,
            settings=SETTINGS,
        ).id


def _state(market, who, order_id, body):
    with market.store.write() as s:
        return disputes.add_statement(
            s, market.clock, SETTINGS, s.get(User, who.id), order_id, body
        )


def _case(market, who, order_id):
    with market.store.read() as s:
        return disputes.case(s, SETTINGS, s.get(User, who.id), order_id)


def _inbox(market, who):
    with market.store.write() as s:
        me = s.get(User, who.id)
        inbox.gather(s, market.clock, me)
        return [i.text for i in inbox.inbox(s, me).items]


def test_a_dispute_needs_a_reason_and_nothing_changes_without_one(market):
    o = market.paid_order()
    with pytest.raises(Invalid, match=r"needs a reason.*--reason TEXT"):
        market.act(market.buyer, o.id, "dispute")
    with pytest.raises(Invalid, match="reason must not be empty"):
        market.act(market.buyer, o.id, "dispute", opening=Opening("  \t "))
    with pytest.raises(Invalid, match="at most 200"):
        market.act(market.buyer, o.id, "dispute", opening=Opening("x" * 201))
    with market.store.read() as s:
        assert orders.get_order(s, s.get(User, market.buyer.id), o.id).status == "paid"


def test_opening_keeps_the_reason_as_data_and_attaches_only_the_pairs_lines(market):
    o = market.paid_order()
    mine = _say(market, market.buyer, market.seller, "It arrived [bold]broken[/bold]")
    theirs = _say(market, market.seller, market.buyer, "Not my problem")
    stranger = make_user(market.store, market.clock, "zed", verified=True)
    foreign = _say(market, stranger, market.seller, "hello lin")
    for bad in (foreign, 999_999):
        with pytest.raises(Refused, match=f"no message #{bad} in your chat with @lin"):
            market.act(market.buyer, o.id, "dispute", opening=Opening("broken", (mine, bad)))
    hostile = "Broken\x1b[2J [red]screen[/red] \u202egnp.exe"
    disputed = market.act(
        market.buyer, o.id, "dispute", opening=Opening(hostile, (theirs, mine, mine))
    )
    assert (disputed.status, disputed.paused) == ("disputed", True)
    case = _case(market, market.mediator, o.id)
    # The escape and the bidi override are gone; the markup stays as text.
    assert case.reason == "Broken[2J [red]screen[/red] gnp.exe"
    assert case.opened_by == "bob"
    assert [(m.id, m.sender) for m in case.attached] == [(mine, "bob"), (theirs, "lin")]
    assert case.attached[0].body == "It arrived [bold]broken[/bold]"
    assert case.statement_until == case.opened_at + 48 * HOUR
    assert case.held == 15000 and set(case.credit) == {"bob", "lin"}


def test_too_many_lines_are_refused(market):
    o = market.paid_order()
    ids = tuple(_say(market, market.buyer, market.seller, f"line number {n}") for n in range(11))
    with pytest.raises(Invalid, match="at most 10 chat lines; you picked 11"):
        market.act(market.buyer, o.id, "dispute", opening=Opening("late", ids))
    with market.store.read() as s:
        lines = disputes.recent_lines(s, s.get(User, market.seller.id), o.id)
    assert [m.id for m in lines] == list(ids)
    with market.store.read() as s, pytest.raises(Refused, match="between other people"):
        disputes.recent_lines(s, s.get(User, market.mediator.id), o.id)


def test_one_statement_per_side_within_48_hours(market):
    o = market.paid_order()
    market.act(market.seller, o.id, "deliver")
    with pytest.raises(Refused, match="not in dispute"):
        _state(market, market.seller, o.id, "early")
    market.act(market.buyer, o.id, "dispute", opening=Opening("It does not work"))
    market.clock.advance(47 * HOUR)
    case = _state(market, market.seller, o.id, "It worked when it left.\nI have a video.")
    assert [(s.author, s.text) for s in case.statements] == [
        ("lin", "It worked when it left.\nI have a video.")
    ]
    with pytest.raises(Refused, match=r"already added your statement.*one per side"):
        _state(market, market.seller, o.id, "and another thing")
    with pytest.raises(Refused, match="Only the buyer or the seller"):
        _state(market, market.mediator, o.id, "I am neutral")
    with market.store.read() as s:
        assert disputes.can_state(s, market.clock, SETTINGS, s.get(User, market.buyer.id), o.id)
    market.clock.advance(HOUR)  # 48 h after opening: the window closed
    with pytest.raises(Refused, match="statement window of order #1 closed at"):
        _state(market, market.buyer, o.id, "too late")
    with market.store.read() as s:
        assert not disputes.can_state(s, market.clock, SETTINGS, s.get(User, market.buyer.id), o.id)
    assert len(_case(market, market.buyer, o.id).statements) == 1


def test_both_parties_are_told_of_the_opening_and_each_statement(market):
    o = market.paid_order()
    market.act(market.seller, o.id, "dispute", opening=Opening("Buyer never answered"))
    _state(market, market.buyer, o.id, "I was away")
    buyer, seller = _inbox(market, market.buyer), _inbox(market, market.seller)
    assert (
        "@lin opened a dispute on order #1 (Piano lessons): Buyer never answered. "
        "Add your statement by 2026-11-03 09:00 UTC."
    ) in buyer
    assert (
        "You opened a dispute on order #1 (Piano lessons); both sides may add a statement "
        "by 2026-11-03 09:00 UTC."
    ) in seller
    assert any("@bob added a statement to the dispute on order #1" in t for t in seller)
    assert any("You added a statement" in t for t in buyer)
    # One item for the step: the inbox's own gathering of the event adds none.
    assert sum("dispute" in t for t in buyer) == 2


def test_notes_are_chained_and_signed_into_verify(market):
    o = market.paid_order()
    market.act(market.buyer, o.id, "dispute", opening=Opening("Broken"))
    _state(market, market.seller, o.id, "It was fine")
    with market.store.read() as s:
        assert audit.verify(s).ok
    with market.store.write() as s:
        s.exec(sql("UPDATE dispute_note SET text = 'It was perfect' WHERE kind = 'statement'"))
    with market.store.read() as s:
        problems = audit.verify(s).problems
    assert any(p.table == "dispute_note" for p in problems), problems


@pytest.mark.parametrize(
    ("resolution", "split", "to_buyer", "to_seller"),
    [("release", None, 0, 15000), ("refund", None, 15000, 0), ("split", 4000, 11000, 4000)],
)
def test_the_decision_form_says_who_gets_what_and_the_step_pays_it(
    market, resolution, split, to_buyer, to_seller
):
    o = market.paid_order()
    market.act(market.buyer, o.id, "dispute", opening=Opening("Broken"))
    with market.store.read() as s:
        shares = disputes.decision(s, s.get(User, market.mediator.id), o.id, resolution, split)
    assert (shares.to_buyer, shares.to_seller) == (to_buyer, to_seller)
    assert shares.sentence() == (
        f"buyer gets ¥{to_buyer / 100:,.2f}, seller gets ¥{to_seller / 100:,.2f}"
    )
    before = market.balances()
    market.act(market.mediator, o.id, "resolve", resolution=resolution, split=split)
    after = market.balances()
    assert (after[0] - before[0], after[1] - before[1]) == (to_buyer, to_seller)


@pytest.mark.parametrize("split", [None, 0, 15000, 20000, -1])
def test_a_split_out_of_range_is_refused_by_the_form_and_the_step(market, split):
    o = market.paid_order()
    market.act(market.buyer, o.id, "dispute", opening=Opening("Broken"))
    with market.store.read() as s, pytest.raises(Invalid, match="more than 0 and less than"):
        disputes.decision(s, s.get(User, market.mediator.id), o.id, "split", split)
    with pytest.raises(Invalid, match="more than 0 and less than"):
        market.act(market.mediator, o.id, "resolve", resolution="split", split=split)


def test_a_v16_store_gets_the_dispute_notes_table(market, config):
    """v17 on a store from before it (SQLite and PostgreSQL): the table comes, and the
    dispute of an order paid before the upgrade takes a reason and a statement."""
    o = market.paid_order()
    with market.store.write() as s:
        s.exec(sql("DROP TABLE dispute_note"))
        s.exec(sql("UPDATE schema_version SET version = 16"))
    market.store.close()
    market.store = Store.open(config)
    assert market.store.schema_version() == 17
    market.act(market.buyer, o.id, "dispute", opening=Opening("Broken"))
    assert _state(market, market.seller, o.id, "Fine").statements[0].text == "Fine"
    with market.store.read() as s:
        assert audit.verify(s).ok
    market.store.close()


@settings(max_examples=60, deadline=None)
@given(held=st.integers(2, 10**9), data=st.data())
def test_shares_always_add_up_to_what_the_escrow_holds(held, data):
    split = data.draw(st.integers(1, held - 1))
    for resolution, amount in (("release", None), ("refund", None), ("split", split)):
        shares = disputes.shares(held, resolution, amount)
        assert shares.to_buyer + shares.to_seller == held
        assert min(shares.to_buyer, shares.to_seller) >= 0
    assert disputes.shares(held, "split", split).to_seller == split
