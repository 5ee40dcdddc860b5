"""Records nobody can rewrite (#20): someone with the store file and sqlite3, who recomputes
every hash, still can't forge, alter or re-attribute a signed record, nor move money or
power through a column no chain holds; a rolled-back store is noticed at the next login."""

import shutil
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import func, select

from p2pmarket import config as config_mod
from p2pmarket.errors import Refused
from p2pmarket.market import Market, records
from p2pmarket.models import (
    Account,
    ChainHead,
    Entry,
    KeyEvent,
    Role,
    Signature,
    Transfer,
    User,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.records import signing
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION
from tests.conftest import PASSPHRASE, make_listing, make_user
from tests.tamper import rehash_everything

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def paid(store, clock):
    """Bob (the operator) paid Lin's lesson into escrow; Mei mediates. All three verified
    by Bob's signed acts; Bob and Lin logged in (they have keys), Mei has not."""
    for handle in ("bob", "lin", "mei"):
        make_user(store, clock, handle)
    market = Market(store, clock)
    bob, lin = market.actor("bob", PASSPHRASE), market.actor("lin", PASSPHRASE)
    for handle in ("bob", "lin", "mei"):
        records.verify_user(market, handle, by=bob)
    records.set_role(market, "mei", Role.mediator, by=bob)
    listing = make_listing(store, clock, lin.user)
    bob.topup(100_000, "fund")
    lin.topup(1_000, "float")
    order = bob.create_order(listing.id)
    lin.act(order.id, "accept")
    bob.pay(order.id)
    return market, bob, lin, order.id


def _sql(market, *statements):
    raw = sqlite3.connect(market.config.sqlite_path)
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def _rehash(market):
    """What the attacker does next: recompute every chain's hashes, heads and checkpoints."""
    with market.store.write() as session:
        rehash_everything(session.connection())


def _report(market):
    return records.verify(market)


def _ids(market):
    with market.store.read() as s:
        users = {u.handle: u.id for u in s.exec(select(User))}
        wallets = {
            handle: s.exec(select(Account.id).where(Account.user_id == uid)).first()
            for handle, uid in users.items()
        }
        pay = s.exec(select(Transfer.id).where(Transfer.kind == "pay")).one()
    return users, wallets, pay


def test_a_signed_store_verifies_and_counts_its_signatures(paid):
    market, *_ = paid
    report = _report(market)
    assert report.ok, report.problems
    assert report.signed > 10


def test_a_forged_transfer_with_every_hash_recomputed_fails_naming_the_row(paid):
    """Lin's ¥200 top-up rewritten to pay ¥100 into Bob's wallet instead: entries, balances,
    hashes and heads all consistent, so only the signatures can tell."""
    market, _, lin, _ = paid
    lin.topup(20_000, "lin-fund")
    _, wallets, _ = _ids(market)
    with market.store.read() as s:
        topup = s.exec(select(Transfer.id).where(Transfer.idem_key.endswith(":lin-fund"))).one()
        rows = s.exec(select(Entry).where(Entry.transfer_id == topup)).all()
    mine = next(e for e in rows if e.account_id == wallets["lin"])
    other = next(e for e in rows if e is not mine)
    _sql(
        market,
        f"UPDATE entry SET amount = 10000 WHERE id = {mine.id}",
        f"UPDATE entry SET amount = 10000, account_id = {wallets['bob']} WHERE id = {other.id}",
        f"UPDATE entry SET amount = -20000 WHERE id = {other.id}",
        f"UPDATE account SET balance = balance - 10000 WHERE id = {wallets['lin']}",
        f"UPDATE account SET balance = balance + 20000 WHERE id = {other.account_id}",
        f"UPDATE account SET balance = balance - 10000 WHERE id = {wallets['bob']}",
    )
    _rehash(market)
    problems = _report(market).problems
    named = {(p.table, p.row_id) for p in problems}
    assert ("entry", mine.id) in named and ("entry", other.id) in named, problems


def test_re_attributing_an_order_step_is_caught(paid):
    market, _, _, order_id = paid
    users, _, _ = _ids(market)
    _sql(
        market,
        f"UPDATE orderevent SET actor_id = {users['mei']} "
        f"WHERE order_id = {order_id} AND to_status = 'accepted'",
    )
    _rehash(market)
    problems = _report(market).problems
    assert any(p.table == "orderevent" and "re-attributed" in p.what for p in problems), problems


# Every column that moves money or grants power, edited with sqlite3 (no hash touched):
# the table and row verify must name, as "table#id" in a covered row's problem or as the
# problem's own row.
COLUMNS = [
    ("UPDATE orders SET seller_id = {mei} WHERE id = {order}", "orders#{order}"),
    ("UPDATE orders SET buyer_id = {mei} WHERE id = {order}", "orders#{order}"),
    ("UPDATE orders SET amount = 1 WHERE id = {order}", "orders#{order}"),
    ("UPDATE orders SET unit_price = 1 WHERE id = {order}", "orders#{order}"),
    ("UPDATE orders SET quantity = 9 WHERE id = {order}", "orders#{order}"),
    ("UPDATE orders SET status = 'delivered' WHERE id = {order}", "orders {order}"),
    (
        "UPDATE account SET user_id = CASE user_id WHEN {bob} THEN -1 ELSE {bob} END "
        "WHERE id IN ({bob_wallet}, {lin_wallet}); "
        "UPDATE account SET user_id = {lin} WHERE user_id = -1",
        "account#{bob_wallet}",
    ),
    ("UPDATE account SET kind = 'escrow' WHERE id = {bob_wallet}", "account#{bob_wallet}"),
    ("UPDATE transfer SET kind = 'topup' WHERE id = {pay}", "transfer#{pay}"),
    ("UPDATE transfer SET actor_id = {lin} WHERE id = {pay}", "transfer#{pay}"),
    ("UPDATE transfer SET order_id = NULL WHERE id = {pay}", "transfer#{pay}"),
    ("UPDATE user SET role = 'mediator' WHERE id = {lin}", "user {lin}"),
    ("UPDATE user SET role = 'member' WHERE id = {mei}", "user {mei}"),
    ("UPDATE user SET verified = 0 WHERE id = {lin}", "user {lin}"),
    (
        "UPDATE user SET passphrase_hash = (SELECT passphrase_hash FROM user WHERE id = {mei}) "
        "WHERE id = {lin}",
        "user {lin}",
    ),
    (
        "UPDATE user SET public_key = (SELECT public_key FROM user WHERE id = {bob}) "
        "WHERE id = {lin}",
        "user {lin}",
    ),
    ("UPDATE meta SET value = '{lin}' WHERE key = 'operator'", "meta -"),
]


@pytest.mark.parametrize(("statements", "names"), COLUMNS, ids=[c[1] for c in COLUMNS])
def test_each_money_or_power_column_edited_fails_verify_naming_the_row(paid, statements, names):
    market, _, _, order_id = paid
    users, wallets, pay = _ids(market)
    ids = {
        **users,
        "order": order_id,
        "pay": pay,
        "bob_wallet": wallets["bob"],
        "lin_wallet": wallets["lin"],
    }
    _sql(market, *statements.format(**ids).split("; "))
    problems = _report(market).problems
    want = names.format(**ids)
    shown = [f"{p.table} {p.row_id if p.row_id is not None else '-'}: {p.what}" for p in problems]
    assert any(line.startswith(want + ":") or want + " " in line for line in shown), shown


def test_acting_without_the_passphrase_cannot_write_a_keyed_persons_record(paid):
    market, *_ = paid
    with pytest.raises(Refused) as refused:
        market.trusted_actor("bob").topup(100, "no-key")
    assert refused.value.code == "signature_needed"
    # Someone without a key yet: the market vouches, and verify is content.
    market.trusted_actor("mei").topup(100, "mei")
    assert _report(market).ok


def test_chat_without_the_passphrase_is_vouched_for_by_the_market_and_re_attribution_shows(
    paid,
):
    """Chat is chained (and signed) now, but stays what a person at their terminal writes
    without the passphrase: the market signs it. Moving it to another sender still fails."""
    market, bob, *_ = paid
    bob.send_message("lin", "signed by bob")
    sent = market.trusted_actor("lin").send_message("bob", "vouched for by the market")
    assert _report(market).ok
    users, *_ = _ids(market)
    _sql(
        market,
        f"UPDATE message SET sender_id = {users['mei']} WHERE id = {sent.message.id}",
    )
    _rehash(market)
    problems = records.verify(market, full=True).problems
    assert any(p.table == "message" and p.row_id == sent.message.id for p in problems), problems


def test_a_previewed_step_leaves_no_signature_behind(paid):
    """preview_step tries the step in a savepoint: the rows and their signatures go together."""
    market, bob, lin, order_id = paid
    lin.act(order_id, "deliver")
    with market.store.read() as s:
        before = s.exec(select(func.count()).select_from(Signature)).one()
    assert bob.preview_step(order_id, "confirm") is not None
    with market.store.read() as s:
        assert s.exec(select(func.count()).select_from(Signature)).one() == before
    assert records.verify(market, full=True).ok


def test_a_rollback_is_reported_at_the_next_login_once(paid, tmp_path):
    market, bob, *_ = paid
    before = tmp_path / "before.db"
    raw = sqlite3.connect(market.config.sqlite_path)
    raw.backup(sqlite3.connect(before))
    bob.topup(5_000, "after-the-copy")
    old = sqlite3.connect(before)
    old.backup(sqlite3.connect(market.config.sqlite_path))
    old.close()
    raw.close()
    with pytest.raises(Refused) as refused:
        market.actor("bob", PASSPHRASE)
    assert refused.value.code == "rolled_back"
    assert "older than what bob last saw" in refused.value.message
    market.actor("bob", PASSPHRASE)  # reported once; Lin never saw the newer rows
    market.actor("lin", PASSPHRASE)


@pytest.mark.sqlite_only  # deletes the store's file and key, as a demo home is deleted
def test_a_market_made_anew_in_the_same_place_is_not_a_rollback(paid, clock):
    """A home deleted and made again holds another market, which nobody saw yet: logging in
    goes on (no "older than what bob last saw"); that market rolled back is noticed."""
    market, bob, *_ = paid
    config = market.config
    market.close()
    for name in (config.sqlite_path.name, signing.KEY_FILE):
        (config.home / name).unlink()
    store = Store.open(config)
    make_user(store, clock, "bob")
    again = Market(store, clock)
    assert again.identity != market.identity
    bob = again.actor("bob", PASSPHRASE)
    before = config.home / "before.db"
    raw = sqlite3.connect(config.sqlite_path)
    raw.backup(sqlite3.connect(before))
    bob.topup(5_000, "after-the-copy")
    old = sqlite3.connect(before)
    old.backup(sqlite3.connect(config.sqlite_path))
    with pytest.raises(Refused) as refused:
        again.actor("bob", PASSPHRASE)
    assert refused.value.code == "rolled_back"
    again.close()


def test_passphrase_change_and_key_rotation_keep_every_signature_verifiable(paid):
    market, bob, *_ = paid
    bob.change_passphrase(PASSPHRASE, "a new long passphrase")
    with pytest.raises(Refused):
        market.actor("bob", PASSPHRASE)
    bob = market.actor("bob", "a new long passphrase")
    bob.topup(1_000, "after-change")
    bob.rotate_key("a new long passphrase")
    bob.topup(1_000, "after-rotation")
    market.actor("bob", "a new long passphrase").topup(1_000, "after-login")
    report = _report(market)
    assert report.ok, report.problems
    with market.store.read() as s:
        actions = s.exec(
            select(KeyEvent.action).where(KeyEvent.user_id == bob.user.id).order_by(KeyEvent.id)
        ).all()
    assert actions == ["created", "passphrase", "rotated"]


def test_rows_before_anyone_had_a_key_are_legacy_counted_not_failed(store, clock):
    bob = make_user(store, clock, "bob", verified=True)
    with store.write() as s:
        ledger.topup(s, clock, bob.id, 5_000, "old")
    market = Market(store, clock)
    report = _report(market)
    assert report.ok and report.unsigned_legacy >= 3
    market.actor("bob", PASSPHRASE).topup(1_000, "new")
    assert _report(market).ok


def test_a_market_key_minted_in_the_store_is_reported(paid):
    market, *_ = paid
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with market.store.write() as s:
        signing.publish_market_key(s, market.clock, Ed25519PrivateKey.generate())
    problems = _report(market).problems
    assert any("never made" in p.what for p in problems), problems


def test_an_older_store_migrates_and_keys_come_with_the_next_write(tmp_path, clock):
    """v8 on the v1 fixture (through v6's re-chaining and v7's escrow): nothing signed yet is
    legacy; powers granted before any chained
    act (a mediator, verified flags) are the baseline; the demo user gets a key with their
    first write after it."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v1.db", home / "market.db")
    store = Store.open(config_mod.resolve(home=home))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        market = Market(store, clock)
        report = records.verify(market)
        assert report.ok, report.problems
        legacy = report.unsigned_legacy
        # The market's key record and the checkpoint verify made (the market signs it).
        assert legacy > 0 and report.signed == 2
        demo = market.actor("demo", "market-demo-2026")
        assert demo.key is None  # a login alone writes nothing
        demo.topup(1_000, "after-upgrade")
        assert demo.key is not None
        report = records.verify(market)  # incremental: the new rows, all signed
        assert report.ok, report.problems
        assert report.unsigned_legacy == 0 and report.signed > 0
        report = records.verify(market, full=True)
        assert report.ok, report.problems
        assert report.unsigned_legacy == legacy
        assert market.trusted_actor("lin_piano").wallet().balance >= 0
    finally:
        store.close()


def test_a_refused_first_command_leaves_no_key_and_the_next_write_makes_one(paid):
    market = paid[0]

    def keys():
        with market.store.read() as session:
            return session.exec(select(func.count()).select_from(KeyEvent)).one()

    before = keys()
    mei = market.actor("mei", PASSPHRASE)
    with pytest.raises(Refused):
        mei.pay(paid[3])  # not her order
    assert keys() == before and mei.key is None
    mei.topup(500, "first")
    assert keys() == before + 1 and mei.key is not None
    assert records.verify(market, full=True).ok


def test_a_person_remembers_only_the_chains_they_see(paid):
    """Their wallet, their orders and the escrow of them, their credit, their keys, and the
    one-chain kinds: not every account of the market."""
    from p2pmarket.services.records import seen

    market, _, _, order_id = paid
    users, wallets, _ = _ids(market)
    mine = seen.last_seen(market.config, market.identity, "lin")
    assert ("ledger", wallets["lin"]) in mine and ("order_events", order_id) in mine
    assert ("keys", users["lin"]) in mine and ("keys", 0) in mine
    assert ("ledger", wallets["bob"]) not in mine and ("keys", users["bob"]) not in mine


def test_a_write_remembers_the_heads_it_moved_and_reads_no_other(paid, monkeypatch):
    """After a write, what the person saw of the chains it moved is kept on their side,
    without reading every head they see (that grows with their orders)."""
    from p2pmarket.services.records import seen

    market, bob, _, order_id = paid
    _, wallets, _ = _ids(market)

    def everything(*_args):
        raise AssertionError("a write read all of a person's heads")

    monkeypatch.setattr(seen, "heads", everything)
    bob.act(order_id, "revoke")
    with market.store.read() as s:
        now = {(h.kind, h.owner_id): (h.last_id, h.last_hash) for h in s.exec(select(ChainHead))}
        escrow = s.exec(select(Account.id).where(Account.order_id == order_id)).one()
    mine = seen.last_seen(market.config, market.identity, "bob")
    for key in (("ledger", wallets["bob"]), ("ledger", escrow), ("order_events", order_id)):
        assert mine[key] == now[key]


def test_a_remembered_head_cut_short_is_skipped(paid):
    """A process killed while appending leaves part of a line: it is no head (else the
    next login would call the store rewritten)."""
    from p2pmarket.services.records import seen

    market, *_ = paid
    _, wallets, _ = _ids(market)
    before = seen.last_seen(market.config, market.identity, "bob")
    moves = seen._moves(seen._path(market.config, market.identity, "bob"))
    with moves.open("a") as out:
        out.write(f"ledger:{wallets['bob']} 999999 abc")
    assert seen.last_seen(market.config, market.identity, "bob") == before
    market.actor("bob", PASSPHRASE)


def test_a_refund_appends_its_entries_and_event_together(paid):
    """One append per transaction, as a payment: the heads of the wallet, the escrow and
    the order's events are moved in one statement."""
    from sqlalchemy import event

    market, bob, _, order_id = paid
    moves = []

    def count(_conn, _cursor, statement, *_):
        if statement.startswith("UPDATE chain_head"):
            moves.append(statement)

    event.listen(market.store.engine, "before_cursor_execute", count)
    try:
        bob.act(order_id, "revoke")
    finally:
        event.remove(market.store.engine, "before_cursor_execute", count)
    assert len(moves) == 1
    assert records.verify(market, full=True).ok


@pytest.fixture
def booked(paid):
    """As `paid`, and Bob also booked Lin's hourly lesson for Monday 10:00 in Shanghai."""
    market, bob, lin, _ = paid
    listing = make_listing(market.store, market.clock, lin.user, title="Booked lesson")
    lin.set_hours(listing.id, "mon-fri 09:00-12:00")
    order = bob.book(listing.id, "2026-11-02T10:00")
    return market, order.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE orders SET slot_start = slot_start + 3600, slot_end = slot_end + 3600 "
        "WHERE id = {order}",
        "UPDATE orders SET slot_start = NULL, slot_end = NULL WHERE id = {order}",
    ],
    ids=["moved", "unbooked"],
)
def test_a_booked_slot_moved_or_dropped_fails_verify(booked, statement):
    market, order_id = booked
    _sql(market, statement.format(order=order_id))
    problems = _report(market).problems
    assert any(f"orders#{order_id}" in p.what for p in problems), problems


def test_a_booked_slot_verifies_and_orders_without_one_digest_as_before(booked):
    market, _ = booked
    assert records.verify(market, full=True).ok


def _public_of_market_key(home: str) -> str:
    return signing.public_hex(signing.market_key(Path(home)))


def test_processes_opening_a_new_home_at_once_share_one_whole_key(tmp_path):
    """Eight processes make the market's key at the same moment: none reads a half-written
    file (CI once saw 'MalformedFraming' from 16 processes booking a slot), all get one key."""
    home = tmp_path / "home"
    with ProcessPoolExecutor(8) as pool:
        keys = set(pool.map(_public_of_market_key, [str(home)] * 32))
    assert len(keys) == 1
    assert [p.name for p in home.iterdir()] == [signing.KEY_FILE]  # no drafts left behind
    assert (home / signing.KEY_FILE).stat().st_mode & 0o777 == 0o600
