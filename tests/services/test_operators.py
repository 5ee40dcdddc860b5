"""The operator's powers on a real store: who holds them, what they record, what mediators see."""

import pytest
from sqlalchemy import text
from sqlmodel import select

from p2pmarket.errors import Refused
from p2pmarket.models import OperatorEvent, Role, User
from p2pmarket.services.money import orders
from p2pmarket.services.records import audit
from p2pmarket.services.trust import operators
from tests.conftest import DISPUTE, make_user
from tests.services.test_orders import Market


def _events(store) -> list[tuple]:
    with store.read() as s:
        rows = s.exec(select(OperatorEvent).order_by(OperatorEvent.id)).all()
        return [(e.actor_id, e.action, e.subject_id, e.detail) for e in rows]


def test_the_first_user_is_the_operator_and_that_is_recorded(store, clock):
    boss = make_user(store, clock, "boss")
    make_user(store, clock, "amy")
    with store.read() as s:
        assert operators.operator_id(s) == boss.id
    assert _events(store) == [(None, "operator", boss.id, "first user of the market")]


def test_init_names_an_operator_before_they_join(store, clock):
    with store.write() as s:
        assert operators.name_operator(s, clock, "Carol").pending is True
    make_user(store, clock, "amy")  # first, but not the one named
    carol = make_user(store, clock, "carol")
    with store.write() as s:
        assert operators.operator_id(s) == carol.id
        with pytest.raises(Refused) as exc:
            operators.name_operator(s, clock, "amy")
    assert exc.value.code == "operator_exists" and "carol" in exc.value.message


@pytest.mark.parametrize("who", [None, "amy"])
def test_only_the_operator_verifies_or_grants_and_a_refusal_changes_nothing(store, clock, who):
    make_user(store, clock, "boss")
    amy = make_user(store, clock, "amy")
    before = _events(store)
    with store.write() as s:
        actor = s.get(User, amy.id) if who else None
        subject = s.get(User, amy.id)
        for act in (
            lambda: operators.verify_user(s, clock, actor, subject),
            lambda: operators.set_role(s, clock, actor, subject, Role.mediator),
        ):
            with pytest.raises(Refused) as exc:
                act()
            assert "operator (boss)" in exc.value.message or "--as boss" in exc.value.message
    with store.read() as s:
        amy = s.get(User, amy.id)
        assert not amy.verified and amy.role == Role.member
    assert _events(store) == before


def test_operator_acts_are_chained_and_an_edited_act_fails_verify(store, clock):
    boss = make_user(store, clock, "boss")
    amy = make_user(store, clock, "amy")
    with store.write() as s:
        actor, subject = s.get(User, boss.id), s.get(User, amy.id)
        assert operators.verify_user(s, clock, actor, subject) is True
        assert operators.set_role(s, clock, actor, subject, Role.mediator) is True
        # Asking again changes nothing and records nothing.
        assert operators.set_role(s, clock, actor, subject, Role.mediator) is False
    assert [e[1:] for e in _events(store)] == [
        ("operator", boss.id, "first user of the market"),
        ("verify", amy.id, "real name checked"),
        ("role", amy.id, "mediator"),
    ]
    with store.read() as s:
        report = audit.verify(s)
    assert report.ok and report.rows_checked["operator_events"] == 3
    with store.write() as s:
        s.execute(text("UPDATE operator_event SET subject_id = :b WHERE id = 3"), {"b": boss.id})
    with store.read() as s:
        problems = audit.verify(s).problems
    assert [(p.chain, p.row_id) for p in problems] == [("operator_events", 3)]


def test_mediators_see_only_disputes_they_are_not_part_of(store, clock):
    m = Market(store, clock)
    other = make_user(store, clock, "ann", role=Role.mediator, verified=True)
    m.topup(m.mediator, 100_000)
    foreign = m.paid_order()
    m.act(m.buyer, foreign.id, "dispute", opening=DISPUTE)
    with store.write() as s:  # the mediator mei buys too, and disputes her own order
        own = orders.create_order(s, clock, s.get(User, m.mediator.id), m.listing.id)
    m.act(m.seller, own.id, "accept")
    m.act(m.mediator, own.id, "pay")
    m.act(m.mediator, own.id, "dispute", opening=DISPUTE)
    quiet = m.paid_order()  # never disputed: no mediator's business
    with store.read() as s:
        assert [o.id for o in orders.list_orders(s, m.mediator.id, side="mediating")] == [
            foreign.id
        ]
        assert {o.id for o in orders.list_orders(s, other.id, side="mediating")} == {
            foreign.id,
            own.id,
        }
        assert orders.get_order(s, s.get(User, other.id), own.id).id == own.id
        with pytest.raises(Refused):
            orders.get_order(s, s.get(User, other.id), quiet.id)
        with pytest.raises(Refused) as exc:
            orders.list_orders(s, m.buyer.id, side="mediating")
    assert exc.value.code == "not_a_mediator"
