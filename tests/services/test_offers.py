"""Offers on a real store: the state machine, the rules an offer passes, its chat lines,
expiry from the clock, and the order an accepted offer becomes."""

import pytest
from sqlmodel import select

from p2pmarket.clock import HOUR
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    ChatMode,
    Listing,
    Message,
    Offer,
    OfferStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Tier,
    User,
)
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.trust import chat, contacts, offers
from tests.conftest import make_listing
from tests.services.trust_helpers import person

SETTINGS = Settings()


@pytest.fixture
def trade(store, clock):
    """Bob buys from Lin, who sells 3 lessons at ¥150; their conversation is in trade mode."""
    bob, lin = person(store, clock, "bob"), person(store, clock, "lin")
    listing = make_listing(store, clock, lin, price=150_00, quantity=3)
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, bob.id), s.get(User, lin.id), ChatMode.trade)
        ledger.topup(s, clock, bob.id, 1_000_00, "fund-bob")
    return bob, lin, listing


def offer(store, clock, buyer, listing_id, price, qty=1, note=""):
    with store.write() as s:
        return offers.make_offer(
            s, clock, SETTINGS, s.get(User, buyer.id), listing_id, price, qty, note
        )


def answer(store, clock, actor, offer_id, step, **kw):
    with store.write() as s:
        return offers.respond(s, clock, SETTINGS, s.get(User, actor.id), offer_id, step, **kw)


def rows(store, model, **where):
    with store.read() as s:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return s.exec(query).all()


def test_an_accepted_offer_becomes_an_accepted_order_at_its_price(store, clock, trade):
    bob, lin, listing = trade
    with store.write() as s:
        contacts.set_tier(s, clock, s.get(User, bob.id), s.get(User, lin.id), Tier.acquaintance)
    made = offer(store, clock, bob, listing.id, 120_00, qty=2, note="two on Saturdays?")
    assert (made.status, made.by, made.to, made.amount) == ("open", "bob", "lin", 240_00)
    assert made.expires_at == clock.now() + 48 * HOUR
    assert made.actions("lin") == ["accept", "decline", "counter"]
    assert made.actions("bob") == ["withdraw"]
    clock.advance(HOUR)
    accepted = answer(store, clock, lin, made.id, "accept")
    assert accepted.status == "accepted" and accepted.order_id is not None
    with store.read() as s:
        order = s.get(Order, accepted.order_id)
        [event] = s.exec(select(OrderEvent).where(OrderEvent.order_id == order.id)).all()
    assert (order.status, order.unit_price, order.quantity, order.amount) == (
        OrderStatus.accepted,
        120_00,
        2,
        240_00,
    )
    assert order.via_chat and order.buyer_id == bob.id and order.seller_id == lin.id
    assert event.to_status == "accepted" and f"offer #{made.id} accepted" in event.note
    # Paid as any order is: the preview first, then the money into escrow, stock taken.
    with store.write() as s:
        preview = orders.preview_payment(s, clock, SETTINGS, s.get(User, bob.id), order.id)
        assert (preview.amount, preview.to) == (240_00, "lin")
        orders.pay(s, clock, SETTINGS, s.get(User, bob.id), order.id)
    with store.read() as s:
        assert s.get(Listing, listing.id).quantity == 1
        assert ledger.balance(s, bob.id) == 760_00


def test_counters_go_back_and_forth_and_the_order_takes_the_last_price(store, clock, trade):
    bob, lin, listing = trade
    first = offer(store, clock, bob, listing.id, 100_00)
    counter = answer(store, clock, lin, first.id, "counter", unit_price=140_00)
    assert (counter.by, counter.to, counter.parent_id, counter.status) == (
        "lin",
        "bob",
        first.id,
        "open",
    )
    with pytest.raises(Refused, match="Only the one it was made to"):
        answer(store, clock, lin, counter.id, "accept")
    back = answer(store, clock, bob, counter.id, "counter", unit_price=125_00)
    done = answer(store, clock, lin, back.id, "accept")
    statuses = {o.id: o.status for o in rows(store, Offer)}
    assert statuses == {
        first.id: OfferStatus.countered,
        counter.id: OfferStatus.countered,
        back.id: OfferStatus.accepted,
    }
    with store.read() as s:
        assert s.get(Order, done.order_id).unit_price == 125_00
    # Each offer is a line of its own kind in the conversation, showing where it stands.
    with store.write() as s:
        view = chat.show(s, clock, s.get(User, lin.id), s.get(User, bob.id), settings=SETTINGS)
    lines = [m for m in view.messages if m.kind == "offer"]
    assert [m.offer.status if m.offer else None for m in lines] == [
        "countered",
        "countered",
        "accepted",
        None,
    ]
    assert "bob offers ¥100.00 × 1" in lines[0].body
    assert f"counters offer #{first.id}" in lines[1].body
    assert lines[2].offer.order_id == done.order_id
    assert lines[3].order_id == done.order_id and f"order pay {done.order_id}" in lines[3].body
    with pytest.raises(Refused, match="it is accepted"):
        answer(store, clock, lin, back.id, "decline")


def test_an_offer_expires_after_48_hours_from_the_clock(store, clock, trade):
    bob, lin, listing = trade
    made = offer(store, clock, bob, listing.id, 130_00)
    clock.advance(48 * HOUR - 1)
    with store.read() as s:
        assert not offers.anything_due(s, clock)
    clock.advance(1)
    with pytest.raises(Refused, match="expired at") as exc:
        answer(store, clock, lin, made.id, "accept")
    assert exc.value.code == "offer_expired"
    assert rows(store, Order) == []
    with store.write() as s:
        assert offers.anything_due(s, clock)
        assert offers.expire(s, clock) == [made.id]
    [row] = rows(store, Offer)
    assert (row.status, row.decided_at, row.decided_by) == (
        OfferStatus.expired,
        made.expires_at,
        None,
    )
    with pytest.raises(Refused, match="it is expired"):
        answer(store, clock, lin, made.id, "accept")


def test_offers_need_trade_mode_and_pass_the_money_lock(store, clock, trade):
    bob, lin, listing = trade
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, lin.id), s.get(User, bob.id), ChatMode.chat)
    with pytest.raises(Refused) as exc:
        offer(store, clock, bob, listing.id, 100_00)
    assert exc.value.code == "chat_mode"
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, lin.id), s.get(User, bob.id), ChatMode.trade)
    # Bob holds Lin as a stranger: ¥200 may be open between them.
    with pytest.raises(Refused) as exc:
        offer(store, clock, bob, listing.id, 110_00, qty=2)
    assert exc.value.code == "over_limit"
    made = offer(store, clock, bob, listing.id, 90_00, qty=2)
    assert made.warning is not None and "90 %" in made.warning
    with store.write() as s:
        contacts.set_tier(s, clock, s.get(User, lin.id), s.get(User, bob.id), Tier.blocked)
    with pytest.raises(Refused) as exc:
        answer(store, clock, lin, made.id, "accept")
    assert exc.value.code == "you_blocked"
    with pytest.raises(Refused) as exc:
        offer(store, clock, bob, listing.id, 50_00)
    assert exc.value.code == "blocked"
    assert len(rows(store, Offer)) == 1 and rows(store, Order) == []
    # Declining stays possible; its line does not reach someone blocked.
    lines = len(rows(store, Message))
    assert answer(store, clock, lin, made.id, "decline").status == "declined"
    assert len(rows(store, Message)) == lines


def test_at_most_three_open_offers_per_listing(store, clock, trade):
    bob, lin, listing = trade
    made = [offer(store, clock, bob, listing.id, p) for p in (50_00, 60_00, 70_00)]
    with pytest.raises(Refused, match="3 open offers") as exc:
        offer(store, clock, bob, listing.id, 80_00)
    assert exc.value.code == "too_many_offers"
    with pytest.raises(Refused, match="Only the one who made it"):
        answer(store, clock, lin, made[0].id, "withdraw")
    assert answer(store, clock, bob, made[0].id, "withdraw").status == "withdrawn"
    assert offer(store, clock, bob, listing.id, 80_00).status == "open"
    assert len(rows(store, Offer, status=OfferStatus.open)) == 3


def test_a_floor_declines_automatically_and_a_firm_price_takes_no_offers(store, clock, trade):
    bob, lin, listing = trade
    with store.write() as s:
        policy = offers.set_policy(s, clock, s.get(User, lin.id), listing.id, floor=100_00)
        assert policy.floor == 100_00
        # The buyer never learns the floor.
        assert offers.policy(s, s.get(User, bob.id), listing.id).floor is None
        with pytest.raises(Refused, match="belongs to another seller"):
            offers.set_policy(s, clock, s.get(User, bob.id), listing.id, firm=True)
    low = offer(store, clock, bob, listing.id, 99_99)
    assert (low.status, low.automatic) == ("declined", True)
    assert offer(store, clock, bob, listing.id, 100_00).status == "open"
    with store.write() as s:
        policy = offers.set_policy(s, clock, s.get(User, lin.id), listing.id, firm=True)
        assert policy.firm
    with pytest.raises(Refused, match="price firm") as exc:
        offer(store, clock, bob, listing.id, 140_00)
    assert exc.value.code == "price_firm" and "order create" in exc.value.message
    with store.write() as s:
        policy = offers.set_policy(
            s, clock, s.get(User, lin.id), listing.id, clear_floor=True, firm=False
        )
    assert (policy.floor, policy.firm) == (None, False)
    assert offer(store, clock, bob, listing.id, 10_00).status == "open"


def test_bad_offers_are_refused_and_change_nothing(store, clock, trade):
    bob, lin, listing = trade
    with pytest.raises(Invalid, match="No listing #999"):
        offer(store, clock, bob, 999, 100_00)
    with pytest.raises(Refused, match="own listing"):
        offer(store, clock, lin, listing.id, 100_00)
    with pytest.raises(Refused, match="has 3 left"):
        offer(store, clock, bob, listing.id, 10_00, qty=4)
    with pytest.raises(Invalid, match="at least 1"):
        offer(store, clock, bob, listing.id, 10_00, qty=0)
    with pytest.raises(Invalid):
        offer(store, clock, bob, listing.id, 0)
    with pytest.raises(Invalid):
        offer(store, clock, bob, listing.id, 10_00, note="x" * 201)
    assert rows(store, Offer) == []
    made = offer(store, clock, bob, listing.id, 10_00)
    eve = person(store, clock, "eve")
    with pytest.raises(Invalid, match=f"No offer #{made.id}"):
        answer(store, clock, eve, made.id, "accept")
    with pytest.raises(Invalid, match="needs a price"):
        answer(store, clock, lin, made.id, "counter")
    with pytest.raises(Invalid, match="Unknown offer step"):
        answer(store, clock, lin, made.id, "haggle")
    assert [o.status for o in rows(store, Offer)] == [OfferStatus.open]


def test_a_hostile_note_is_stored_as_plain_text(store, clock, trade):
    bob, lin, listing = trade
    made = offer(store, clock, bob, listing.id, 100_00, note="[b]hi[/b]\x1b[2J\u202eevil")
    assert made.note == "[b]hi[/b][2Jevil"
    with store.write() as s:
        view = chat.show(s, clock, s.get(User, lin.id), s.get(User, bob.id), settings=SETTINGS)
    assert view.messages[-1].body.endswith("Note: [b]hi[/b][2Jevil")


def test_an_offer_is_accepted_only_while_the_stock_lasts(store, clock, trade):
    bob, lin, listing = trade
    made = offer(store, clock, bob, listing.id, 60_00, qty=3)
    with store.write() as s:
        s.get(Listing, listing.id).quantity = 2
    with pytest.raises(Refused, match="has 2 left"):
        answer(store, clock, lin, made.id, "accept")
    assert rows(store, Order) == []


def test_lists_show_my_offers_either_side(store, clock, trade):
    bob, lin, listing = trade
    made = offer(store, clock, bob, listing.id, 100_00)
    answer(store, clock, lin, made.id, "decline")
    second = offer(store, clock, bob, listing.id, 110_00)
    with store.read() as s:
        mine = offers.list_offers(s, s.get(User, bob.id))
        theirs = offers.list_offers(s, s.get(User, lin.id), open_only=True)
        assert offers.get_offer(s, s.get(User, lin.id), made.id).state(clock.now()) == "declined"
    assert [o.id for o in mine] == [second.id, made.id]
    assert [o.id for o in theirs] == [second.id]
    assert theirs[0].state(clock.now()) == "open, 2d 0h left"


def test_a_listing_booked_by_the_slot_takes_no_offers(store, clock, trade):
    from p2pmarket.models import ListingHours

    bob, _, listing = trade
    with store.write() as s:
        s.add(ListingHours(listing_id=listing.id, week="{}", updated_at=clock.now()))
    with pytest.raises(Refused, match="booked by the slot"):
        offer(store, clock, bob, listing.id, 120_00)
