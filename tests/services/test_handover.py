"""How a goods order changes hands: proposals, agreement, the refusals, and the chain."""

from __future__ import annotations

import pytest
from sqlmodel import select

from p2pmarket.clock import DAY, HOUR
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Handover, Kind, OrderEvent, User
from p2pmarket.services.money import orders
from p2pmarket.services.money.orders import handover
from p2pmarket.services.records import audit
from tests.services.test_orders import SETTINGS, Market

ZONE = SETTINGS.zone


@pytest.fixture
def trade(store, clock):
    return Market(store, clock, kind=Kind.goods)


def meet(trade, who, order_id, *, ahead=2 * DAY, place="temple-gate", area=None):
    with trade.store.write() as s:
        return handover.propose_meet(
            s,
            trade.clock,
            ZONE,
            s.get(User, who.id),
            order_id,
            at=trade.clock.now() + ahead,
            place=place,
            area=area,
        )


def ship(trade, who, order_id, tracking="SF Express 123"):
    with trade.store.write() as s:
        return handover.propose_ship(
            s, trade.clock, ZONE, s.get(User, who.id), order_id, tracking=tracking
        )


def agree(trade, who, order_id):
    with trade.store.write() as s:
        return handover.agree(s, trade.clock, ZONE, s.get(User, who.id), order_id)


def shown(trade, who, order_id):
    with trade.store.read() as s:
        return orders.get_order(s, s.get(User, who.id), order_id)


def notes(trade, order_id):
    with trade.store.read() as s:
        rows = s.exec(select(OrderEvent).where(OrderEvent.order_id == order_id)).all()
        return [e.note for e in rows]


def test_a_meet_up_proposed_by_the_buyer_is_agreed_by_the_seller(trade):
    o = trade.order()
    proposed = meet(trade, trade.buyer, o.id)
    assert proposed.method == "meet" and not proposed.agreed
    # The seller's home area (Jing'an, where the test users live) and its landmark.
    assert (proposed.area, proposed.landmark) == ("jingan", "temple-gate")
    assert handover.actions(shown(trade, trade.seller, o.id), "lin") == ["meet", "ship", "agree"]
    assert handover.actions(shown(trade, trade.buyer, o.id), "bob") == ["meet"]

    agreed = agree(trade, trade.seller, o.id)
    assert agreed.agreed and agreed.meet_at == proposed.meet_at
    view = shown(trade, trade.buyer, o.id)
    assert view.handover == agreed and view.to_json()["handover"]["agreed"] is True
    assert notes(trade, o.id)[1:] == [
        f"proposed: {proposed.describe(ZONE)}",
        f"agreed: {proposed.describe(ZONE)}",
    ]
    assert "Jing'an Temple, main gate (Jing'an)" in proposed.describe(ZONE)
    assert view.status == "requested"  # agreeing moves no status


def test_a_new_proposal_replaces_the_last_even_an_agreed_one(trade):
    o = trade.paid_order()
    meet(trade, trade.buyer, o.id)
    agree(trade, trade.seller, o.id)
    shipped = ship(trade, trade.seller, o.id)
    assert shipped.method == "ship" and not shipped.agreed and shipped.proposed_by == "lin"
    assert shipped.tracking == "SF Express 123" and shipped.landmark == ""
    with pytest.raises(Refused) as own:
        agree(trade, trade.seller, o.id)
    assert own.value.code == "own_proposal"
    assert agree(trade, trade.buyer, o.id).agreed
    with pytest.raises(Refused) as again:
        agree(trade, trade.buyer, o.id)
    assert again.value.code == "already_agreed"
    with trade.store.read() as s:
        assert len(s.exec(select(Handover)).all()) == 1


def test_refusals_say_why(trade, store, clock):
    o = trade.order()
    with pytest.raises(Refused) as nothing:
        agree(trade, trade.seller, o.id)
    assert nothing.value.code == "nothing_proposed"
    with pytest.raises(Refused) as unknown:
        meet(trade, trade.buyer, o.id, place="my-flat")
    assert "temple-gate, park-entrance, kerry-centre" in unknown.value.message
    with pytest.raises(Refused) as elsewhere:
        meet(trade, trade.buyer, o.id, place="temple-gate", area="the-bund")
    assert "its landmarks are: bull," in elsewhere.value.message
    assert meet(trade, trade.buyer, o.id, place="bull", area="the-bund").area == "the-bund"
    with pytest.raises(Refused) as past:
        meet(trade, trade.buyer, o.id, ahead=-HOUR)
    assert past.value.code == "meet_in_past"
    with pytest.raises(Refused) as far:
        meet(trade, trade.buyer, o.id, ahead=90 * DAY)
    assert far.value.code == "meet_too_far"
    with pytest.raises(Refused) as buyer_ships:
        ship(trade, trade.buyer, o.id)
    assert buyer_ships.value.code == "ship_seller_only"
    with pytest.raises(Refused) as stranger:
        meet(trade, trade.mediator, o.id)
    assert stranger.value.code == "not_your_order"
    with pytest.raises(Invalid):
        ship(trade, trade.seller, o.id, tracking="   ")
    with pytest.raises(Invalid):
        meet(trade, trade.buyer, 999)


def test_an_agreement_after_the_time_passed_is_refused(trade):
    o = trade.order()
    meet(trade, trade.buyer, o.id, ahead=HOUR)
    trade.clock.advance(2 * HOUR)
    with pytest.raises(Refused) as late:
        agree(trade, trade.seller, o.id)
    assert late.value.code == "meet_in_past"


def test_only_open_goods_orders_change_hands(store, clock):
    skill = Market(store, clock)  # piano lessons
    o = skill.order()
    with pytest.raises(Refused) as not_goods:
        meet(skill, skill.buyer, o.id)
    assert not_goods.value.code == "handover_goods_only"
    assert handover.actions(shown(skill, skill.buyer, o.id), "bob") == []


def test_a_delivered_order_is_settled(trade):
    o = trade.paid_order()
    trade.act(trade.seller, o.id, "deliver")
    with pytest.raises(Refused) as closed:
        meet(trade, trade.buyer, o.id)
    assert closed.value.code == "handover_closed"


def test_the_agreement_is_on_the_chain(trade):
    o = trade.order()
    meet(trade, trade.buyer, o.id)
    agree(trade, trade.seller, o.id)
    with trade.store.write() as s:
        event = s.exec(select(OrderEvent).where(OrderEvent.order_id == o.id)).all()[-1]
        event.note = event.note.replace("temple-gate", "my flat").replace("Temple", "Flat")
        s.add(event)
    with trade.store.read() as s:
        problems = audit.verify(s).problems
    assert [(p.table, p.row_id) for p in problems] == [("orderevent", event.id)]
