"""Chat: persistence, unread counts, modes, blocked reach, spam, polling, payment requests."""

import time

import pytest

from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import ChatMode, SpamFlag, Tier, User
from p2pmarket.services.trust import chat, contacts, credit
from tests.services.trust_helpers import person


@pytest.fixture
def two(store, clock):
    return person(store, clock, "amy"), person(store, clock, "bob")


def _send(store, clock, sender, to, body, **kw):
    with store.write() as s:
        return chat.send(
            s, clock, s.get(User, sender.id), s.get(User, to.id), body, settings=Settings(), **kw
        )


def _show(store, clock, viewer, other, **kw):
    with store.write() as s:
        return chat.show(
            s, clock, s.get(User, viewer.id), s.get(User, other.id), settings=Settings(), **kw
        )


def _tier(store, clock, owner, other, tier):
    with store.write() as s:
        contacts.set_tier(s, clock, s.get(User, owner.id), s.get(User, other.id), tier)


def test_conversation_persists_with_unread_counts(store, clock, two):
    amy, bo = two
    _send(store, clock, amy, bo, "hi bob")
    clock.advance(5)
    _send(store, clock, amy, bo, "is the piano\nstill free?")
    with store.read() as s:
        assert chat.unread_total(s, bo.id) == 2 and chat.unread_total(s, amy.id) == 0
        [summary] = chat.list_conversations(s, s.get(User, bo.id))
    assert (summary.other, summary.unread, summary.last) == ("amy", 2, "is the piano")
    view = _show(store, clock, bo, amy)
    assert view.unread == 2
    assert [m.body for m in view.messages] == ["hi bob", "is the piano\nstill free?"]
    assert _show(store, clock, bo, amy).unread == 0
    _send(store, clock, bo, amy, "yes")
    with store.read() as s:
        assert chat.unread_total(s, amy.id) == 1 and chat.unread_total(s, bo.id) == 0


def test_message_text_is_cleaned_and_bounded(store, clock, two):
    amy, bo = two
    view = _send(store, clock, amy, bo, "\x1b[31mred\x1b[0m \u202eevil\x07  text")
    assert view.body == "[31mred[0m evil text"
    with pytest.raises(Invalid):
        _send(store, clock, amy, bo, "x" * 2001)
    with pytest.raises(Invalid):
        _send(store, clock, amy, bo, "  \n\t ")
    with pytest.raises(Invalid):
        _send(store, clock, amy, amy, "talking to myself")


def test_blocked_users_cannot_message_either_way(store, clock, two):
    amy, bo = two
    _tier(store, clock, bo, amy, Tier.blocked)
    with pytest.raises(Refused) as exc:
        _send(store, clock, amy, bo, "hello?")
    assert exc.value.code == "blocked"
    with pytest.raises(Refused) as exc:
        _send(store, clock, bo, amy, "hello?")
    assert exc.value.code == "you_blocked" and "set-tier amy stranger" in exc.value.message
    with store.write() as s, pytest.raises(Refused):
        chat.set_mode(s, clock, s.get(User, amy.id), s.get(User, bo.id), ChatMode.trade)
    # The blocker sees nothing of the blocked person's facts in the header.
    view = _show(store, clock, bo, amy)
    assert view.other.blocked and view.other.to_json() == {
        "handle": "amy",
        "distance": None,
        "blocked": True,
    }
    _tier(store, clock, bo, amy, Tier.stranger)
    _send(store, clock, amy, bo, "hello again")


def test_mode_switch_is_a_line_both_sides_see(store, clock, two):
    amy, bo = two
    with store.write() as s:
        line = chat.set_mode(s, clock, s.get(User, bo.id), s.get(User, amy.id), ChatMode.trade)
    assert line.kind == "system" and "bob switched to trade mode" in line.body
    with store.write() as s, pytest.raises(Refused, match="already in trade"):
        chat.set_mode(s, clock, s.get(User, amy.id), s.get(User, bo.id), ChatMode.trade)
    amy_view = _show(store, clock, amy, bo)
    assert amy_view.mode == "trade" and amy_view.unread == 1
    assert amy_view.messages[-1].body == line.body
    with pytest.raises(Invalid):
        chat.parse_mode("money")


def test_header_shows_only_published_facts(store, clock, two):
    amy, bo = two
    _send(store, clock, amy, bo, "hi")
    header = _show(store, clock, bo, amy).other.to_json()
    assert "real_name" not in header and "spent" not in header
    assert header["verified"] is True and header["distance"] == "< 0.5 km"
    assert "lat" not in str(header) and "121.4" not in str(header)


def test_polling_sees_new_messages_cheaply(store, clock, two):
    amy, bo = two
    with store.read() as s:
        assert chat.changes_since(s, bo.id, 0) == chat.Changes(0, 0)
    first = _send(store, clock, amy, bo, "one")
    _send(store, clock, amy, bo, "two")
    with store.read() as s:
        changes = chat.changes_since(s, bo.id, 0)
        assert changes.new == 2 and changes.latest_id > first.id
        assert chat.changes_since(s, bo.id, changes.latest_id).new == 0
        assert chat.changes_since(s, amy.id, 0).new == 0
        if s.connection().dialect.name != "sqlite":
            return
        plan = " ".join(
            str(row)
            for row in s.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT max(id) FROM message WHERE to_id = 2"
            )
        )
    assert "ix_message_to_id_id" in plan


def test_watcher_sees_other_connections_commits(store, clock, two):
    amy, bo = two
    watcher = chat.Watcher(store.engine)
    try:
        assert not watcher.changed()
        _send(store, clock, amy, bo, "ping")
        # SQLite answers at once; PostgreSQL's NOTIFY reaches the listener a moment later:
        # ask again (bounded) until it has arrived.
        deadline = time.monotonic() + 10
        while not watcher.changed():
            assert time.monotonic() < deadline, "no change seen within 10 s"
            time.sleep(0.01)
        assert not watcher.changed()
    finally:
        watcher.close()


SPAM = "Cheap phones!! visit my shop now"


def test_same_text_to_many_strangers_is_spam(store, clock):
    settings = Settings()
    spammer = person(store, clock, "spammer")
    targets = [person(store, clock, f"target{i}") for i in range(7)]
    for target in targets[:4]:
        _send(store, clock, spammer, target, SPAM)
    with store.read() as s:
        assert s.exec(SpamFlag.__table__.select()).all() == []
    # Case, spacing and punctuation don't make it a different text.
    _send(store, clock, spammer, targets[4], "cheap PHONES visit   my shop now")
    with store.read() as s:
        [flag] = s.exec(SpamFlag.__table__.select()).all()
        assert flag.recipients == settings.spam_recipients
        assert credit.scores(s, spammer.id).social == 650 - 30
    with pytest.raises(Refused) as exc:
        _send(store, clock, spammer, targets[5], SPAM)
    assert exc.value.code == "spam"
    # Someone who knows them still gets it; a personal text still goes to strangers.
    _tier(store, clock, targets[6], spammer, Tier.acquaintance)
    _send(store, clock, spammer, targets[6], SPAM)
    _send(store, clock, spammer, targets[5], "hello, is your bike still for sale?")


def test_spread_out_or_short_or_known_messages_are_not_spam(store, clock):
    sender = person(store, clock, "sender")
    targets = [person(store, clock, f"tgt{i}") for i in range(6)]
    for target in targets:  # one an hour: outside the window
        _send(store, clock, sender, target, "good morning neighbour")
        clock.advance(Settings().spam_window // 4 + 1)
    for target in targets:
        _send(store, clock, sender, target, "hi!")
    for target in targets:  # they wrote first: not strangers any more
        _send(store, clock, target, sender, "hello")
    for target in targets:
        _send(store, clock, sender, target, "thanks for the message neighbour")
    with store.read() as s:
        assert s.exec(SpamFlag.__table__.select()).all() == []


def test_payment_request_needs_trade_mode_and_the_gate(store, clock, two):
    amy, bo = two  # amy sells, bo pays
    with store.write() as s, pytest.raises(Refused) as exc:
        chat.request_payment(
            s, clock, s.get(User, amy.id), s.get(User, bo.id), 50_00, settings=Settings()
        )
    assert exc.value.code == "chat_mode"
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, amy.id), s.get(User, bo.id), ChatMode.trade)
    with store.write() as s, pytest.raises(Refused) as exc:
        chat.request_payment(
            s, clock, s.get(User, amy.id), s.get(User, bo.id), 250_00, settings=Settings()
        )
    assert (
        exc.value.code == "over_limit" and "bob classifies amy as a stranger" in exc.value.message
    )
    orders = pytest.importorskip("p2pmarket.services.money.orders")
    if not hasattr(orders, "request_payment"):
        pytest.skip("orders.request_payment not there yet")
    with store.write() as s:
        req = chat.request_payment(
            s,
            clock,
            s.get(User, amy.id),
            s.get(User, bo.id),
            180_00,
            settings=Settings(),
            note="piano tuning",
        )
    assert req.warning is not None and "90 %" in req.warning
    view = _show(store, clock, bo, amy)
    assert view.order_id == req.order_id
    assert (
        view.messages[-1].kind == "request"
        and f"order pay {req.order_id}" in view.messages[-1].body
    )


def test_paying_chat_requests_together_counts_each_against_the_limit(store, clock, two):
    from p2pmarket.services.money import ledger, orders

    amy, bo = two  # amy asks, bo pays; bo holds amy as a stranger: 200.00 may be open
    with store.write() as s:
        chat.set_mode(s, clock, s.get(User, amy.id), s.get(User, bo.id), ChatMode.trade)
        ledger.topup(s, clock, bo.id, 1000_00, "fund-bo")
    with store.write() as s:
        asked = [
            chat.request_payment(
                s, clock, s.get(User, amy.id), s.get(User, bo.id), 150_00, settings=Settings()
            )
            for _ in range(2)
        ]
    with store.write() as s:
        ids = [a.order_id for a in asked]
        paid, refused = orders.pay_many(s, clock, Settings(), s.get(User, bo.id), ids)
    assert paid.status == "paid" and refused.code == "over_limit"
    assert "150.00 already open" in refused.message
    with store.read() as s:
        assert ledger.balance(s, bo.id) == 850_00
