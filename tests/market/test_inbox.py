"""The inbox on a real store: what each event puts in whose inbox, once, and its read state;
saved searches and watched listings."""

import pytest

from p2pmarket.clock import HOUR
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import ChatMode, Kind, Tier, Unit
from p2pmarket.services.market import search
from p2pmarket.services.trust import inbox
from tests.conftest import make_listing


def kinds(actor, kind=None):
    return [(i.kind, i.text) for i in actor.inbox().items if kind is None or i.kind == kind]


def test_messages_of_one_conversation_gather_into_one_item_read_with_the_chat(neighbours):
    bob, lin, _ = neighbours
    bob.send_message("lin", "Is the piano still free?")
    bob.send_message("lin", "Saturday works for me.")
    box = lin.inbox()
    assert [(i.kind, i.text, i.read, i.other) for i in box.items] == [
        ("message", "@bob: Saturday works for me.", False, "bob")
    ]
    assert box.unread == 1 and box.items[0].ref_kind == "conversation"
    assert bob.inbox().items == ()  # your own lines are not news to you
    lin.conversation("bob")  # reading the chat reads its item
    assert lin.inbox().unread == 0
    bob.send_message("lin", "Hello again")
    assert [(i.text, i.read) for i in lin.inbox().items] == [
        ("@bob: Hello again", False),
        ("@bob: Saturday works for me.", True),
    ]


def test_offers_and_counters_reach_the_other_side(neighbours):
    bob, lin, listing = neighbours
    bob.set_chat_mode("lin", ChatMode.trade)
    bob.set_tier("lin", Tier.acquaintance)
    made = bob.make_offer(listing.id, 120_00, quantity=2)
    [offer] = [i for i in lin.inbox().items if i.kind == "offer"]
    assert (offer.ref_kind, offer.ref_id) == ("offer", made.id)
    assert "bob offers ¥120.00 × 2" in offer.text
    counter = lin.answer_offer(made.id, "counter", unit_price=135_00)
    [back] = [i for i in bob.inbox().items if i.kind == "offer"]
    assert (back.ref_kind, back.ref_id) == ("offer", counter.id)
    assert f"counters offer #{made.id}" in back.text
    done = bob.answer_offer(counter.id, "accept")
    texts = kinds(lin)
    assert any(k == "offer" and f"order #{done.order_id}" in t for k, t in texts)
    # The order the accepted offer became is an order change for its seller.
    assert any(k == "order" and f"order #{done.order_id}" in t for k, t in texts)


def test_every_step_of_an_order_tells_the_other_side(neighbours):
    bob, lin, listing = neighbours
    made = bob.create_order(listing.id)
    assert kinds(lin, "order") == [
        ("order", f"@bob ordered Piano lessons (order #{made.id}): accept or decline it.")
    ]
    lin.act(made.id, "accept")
    assert kinds(bob, "order") == [
        ("order", f"@lin accepted order #{made.id} (Piano lessons): pay it.")
    ]
    bob.pay(made.id)
    lin.act(made.id, "deliver")
    bob.act(made.id, "confirm")
    assert [t for _, t in kinds(lin, "order")][:2] == [
        f"Order #{made.id} (Piano lessons) is completed by @bob: released to seller.",
        f"@bob paid order #{made.id} (Piano lessons): deliver it.",
    ]
    assert len(kinds(bob, "order")) == 2  # accepted, delivered: never its own steps


def test_deadlines_are_told_a_day_before_they_end_once(neighbours, market):
    bob, lin, listing = neighbours
    made = bob.create_order(listing.id)
    lin.act(made.id, "accept")
    bob.pay(made.id)
    market.tick()
    market.tick()
    # The revoke window is a day long: it ends within a day from the start.
    assert [t for _, t in kinds(bob, "deadline")] == [
        f"Order #{made.id} (Piano lessons): you may revoke it until 2026-11-02 17:00 "
        "(UTC+08:00); later only a dispute."
    ]
    assert kinds(lin, "deadline") == []
    market.clock.advance(5 * 24 * HOUR)  # two days before the 7-day delivery deadline
    market.tick()
    assert kinds(lin, "deadline") == []
    market.clock.advance(24 * HOUR)
    market.tick()
    market.tick()
    [told] = kinds(lin, "deadline")
    assert "deliver it by 2026-11-08 17:00 (UTC+08:00), or it is refunded" in told[1]
    lin.act(made.id, "deliver")
    market.clock.advance(2 * 24 * HOUR + HOUR)  # the 3-day confirm window has < 1 day left
    market.tick()
    assert next(t for _, t in kinds(bob, "deadline")).endswith(
        "or it completes and the seller is paid."
    )


def test_slot_reminders_go_to_both_sides_24h_and_1h_before(neighbours, market):
    bob, lin, listing = neighbours
    lin.set_hours(listing.id, "mon-sun 09:00-18:00")
    # 2026-11-03 10:00 in Shanghai is START + 41 h.
    booked = bob.book(listing.id, "2026-11-03T10:00")
    market.clock.advance(16 * HOUR)
    market.tick()
    assert kinds(bob, "reminder") == kinds(lin, "reminder") == []
    market.clock.advance(HOUR)  # 24 h before
    market.tick()
    market.tick()
    want = [
        (
            "reminder",
            f"Reminder: Order #{booked.id} (Piano lessons) starts in 24 h, "
            "at 2026-11-03 10:00 (UTC+08:00).",
        )
    ]
    assert kinds(bob, "reminder") == kinds(lin, "reminder") == want
    market.clock.advance(22 * HOUR + 59 * 60)
    market.tick()
    assert len(kinds(bob, "reminder")) == 1
    market.clock.advance(60)  # 1 h before
    market.tick()
    assert next(t for _, t in kinds(lin, "reminder")).startswith(
        f"Reminder: Order #{booked.id} (Piano lessons) starts in 1 h"
    )
    assert len(kinds(bob, "reminder")) == 2
    market.clock.advance(2 * HOUR)
    market.tick()
    assert len(kinds(lin, "reminder")) == 2


def test_a_saved_search_finds_listings_added_after_it(neighbours, market):
    bob, lin, _ = neighbours
    seen = bob.save_search("pianos", search.Query(text="pian", radius_km=5))
    assert (seen.name, seen.text, seen.radius_km) == ("pianos", "pian", 5)
    assert kinds(bob, "search") == []  # listings from before are not news
    store, clock = market.store, market.clock
    clock.advance(HOUR)
    hit = make_listing(
        store,
        clock,
        lin.user,
        title="Upright piano",
        kind=Kind.goods,
        category="musical-instruments",
        unit=Unit.item,
        price=90000,
    )
    make_listing(store, clock, lin.user, title="Guitar lessons", category="guitar-lessons")
    [item] = bob.inbox().items
    assert (item.kind, item.ref_kind, item.ref_id, item.at) == (
        "search",
        "listing",
        hit.id,
        clock.now(),
    )
    assert item.text.startswith(f"New for 'pianos': #{hit.id} Upright piano, ¥900.00/item, ~")
    assert len(bob.inbox().items) == 1  # each hit once
    assert [s.name for s in bob.saved_searches()] == ["pianos"]
    bob.unsave_search("pianos")
    make_listing(
        store,
        clock,
        lin.user,
        title="Piano stool",
        kind=Kind.goods,
        category="musical-instruments",
        unit=Unit.item,
    )
    assert len(bob.inbox().items) == 1
    with pytest.raises(Invalid, match="no saved search named 'pianos'"):
        bob.unsave_search("pianos")


def test_a_watched_listing_tells_of_a_price_drop_and_of_selling_out(neighbours):
    bob, lin, listing = neighbours
    bob.watch_listing(listing.id)
    lin.edit_listing(listing.id, price=16000)  # up: nothing to tell
    assert kinds(bob) == []
    lin.edit_listing(listing.id, price=12000)
    assert kinds(bob) == [
        (
            "price_drop",
            f"Listing #{listing.id} Piano lessons: price dropped from ¥160.00 to ¥120.00.",
        )
    ]
    made = bob.create_order(listing.id, 2)
    lin.act(made.id, "accept")
    bob.pay(made.id)
    assert ("sold", f"Listing #{listing.id} Piano lessons sold out.") in kinds(bob)
    assert [w.listing_id for w in bob.watched()] == [listing.id]
    bob.unwatch_listing(listing.id)
    assert bob.watched() == []
    with pytest.raises(Refused, match="your own listing"):
        lin.watch_listing(listing.id)


def test_read_state_per_item_and_read_all(neighbours):
    bob, lin, listing = neighbours
    bob.send_message("lin", "Hi")
    bob.create_order(listing.id)
    box = lin.inbox()
    assert box.unread == 2
    first = box.items[-1]
    assert lin.read_item(first.id).read
    assert [i.read for i in lin.inbox().items] == [False, True]
    with pytest.raises(Invalid, match="No item"):
        bob.read_item(first.id)
    assert lin.read_all_items() == 1
    assert lin.inbox().unread == 0


def test_news_are_the_unread_items_after_the_last_seen_wherever_gathered(neighbours):
    bob, lin, listing = neighbours
    first = lin.inbox_news()
    assert (first.new, first.newest) == ((), 0)
    bob.create_order(listing.id)
    lin.inbox()  # gathered by another look (the inbox screen, the CLI)
    news = lin.inbox_news(first.newest)
    assert [i.kind for i in news.new] == ["order"] and news.unread == 1
    assert lin.inbox_news(news.newest).new == ()
    # A second line in a conversation still unread is news too (its item is replaced).
    bob.send_message("lin", "Hi")
    first_line = lin.inbox_news(news.newest)
    bob.send_message("lin", "Still there?")
    second = lin.inbox_news(first_line.newest)
    assert [i.text for i in second.new] == ["@bob: Still there?"] and second.unread == 2


def test_saved_searches_and_watches_are_bounded_and_names_are_data(neighbours):
    bob = neighbours[0]
    saved = bob.save_search("\x1b[31mred\u202e bikes", search.Query(text="bike"))
    assert saved.name == "[31mred bikes"
    for i in range(inbox.SAVED_MAX - 1):
        bob.save_search(f"s{i}", search.Query(text="bike"))
    with pytest.raises(Refused, match="50 saved searches, the most"):
        bob.save_search("one more", search.Query(text="bike"))
    # The same name again replaces the search: no room needed.
    assert bob.save_search("s0", search.Query(text="piano", radius_km=9)).radius_km == 9
    with pytest.raises(Invalid):
        bob.save_search("x" * 41, search.Query(text="bike"))
    with pytest.raises(Invalid, match="No listing #999"):
        bob.watch_listing(999)


def test_an_expired_offer_reaches_both_sides_once_from_the_tick(neighbours, market):
    bob, lin, listing = neighbours
    bob.set_chat_mode("lin", ChatMode.trade)
    bob.set_tier("lin", Tier.acquaintance)
    made = bob.make_offer(listing.id, 120_00)
    market.clock.advance(48 * HOUR - 1)
    market.tick()
    assert kinds(bob, "offer") == []
    market.clock.advance(1)
    assert market.tick() == []  # no order settled: only the offer ran out
    what = f"offer #{made.id} on listing #{listing.id} Piano lessons (¥120.00 × 1)"
    assert kinds(bob, "offer") == [
        ("offer", f"Your {what} expired unanswered: make a new one if you wish.")
    ]
    expired = [i for i in lin.inbox().items if "expired" in i.text]
    assert [(i.text, i.ref_kind, i.ref_id, i.at, i.other) for i in expired] == [
        (
            f"@bob's {what} expired: you did not answer within 48 h.",
            "offer",
            made.id,
            made.expires_at,
            "bob",
        )
    ]
    assert lin.offer(made.id).status == "expired"
    market.clock.advance(HOUR)
    market.tick()
    assert len(kinds(bob, "offer")) == 1  # told once
