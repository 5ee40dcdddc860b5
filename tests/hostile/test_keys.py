"""Idempotency keys belong to their actor, and a failing timer stays small.

The attack (issue #19): keys were one namespace and the market's own were predictable,
so `wallet topup 0.01 --key order:10:deadline-refund` made every later command exit 1
once that order's deadline passed, and blocked pay, confirm and resolve. Here a member
squats every market key of live orders through the real CLI, then the real operations
and other commands all go on; a timer whose payout fails stops only its own order.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from p2pmarket import config as config_mod
from p2pmarket.clock import DAY
from p2pmarket.config import Settings
from p2pmarket.errors import Refused
from p2pmarket.models import AccountKind, Order, OrderEvent, Role, Transfer, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.records import audit
from p2pmarket.services.trust import credit
from p2pmarket.store.engine import Store
from tests.cli.conftest import Cli
from tests.conftest import PASSPHRASE, make_listing, make_user

FIXTURES = Path(__file__).parent.parent / "fixtures"
MARKET_OPERATIONS = ("pay", "release", "revoke", "resolve", "deadline-refund", "auto-release")
PRICE = 5000
LATER = "2026-11-12T10:00:00"  # past the delivery deadline (7 days) and a confirm window (3)


class Trade:
    """bob buys lin's lessons, mei mediates, wang squats; the CLI runs on the same store."""

    def __init__(self, store, clock, tmp_path) -> None:
        self.store, self.clock = store, clock
        self.bob = make_user(store, clock, "bob", verified=True)
        self.lin = make_user(store, clock, "lin", verified=True)
        self.mei = make_user(store, clock, "mei", role=Role.mediator, verified=True)
        self.wang = make_user(store, clock, "wang", verified=True)
        self.listing = make_listing(store, clock, self.lin, price=PRICE, quantity=20)
        with store.write() as s:
            ledger.topup(s, clock, self.bob.id, 100_000, "fund")
        self.cli = Cli(tmp_path / "home", passphrase=PASSPHRASE)

    def accepted(self, qty: int = 1) -> int:
        with self.store.write() as s:
            made = orders.create_order(
                s, self.clock, s.get(User, self.bob.id), self.listing.id, qty
            )
            orders.act(s, self.clock, Settings(), s.get(User, self.lin.id), made.id, "accept")
        return made.id

    def order(self, order_id: int, **env) -> dict:
        return self.cli.json("order", "show", str(order_id), "--as", "bob", **env)

    def balance(self, user: User) -> int:
        with self.store.read() as s:
            return ledger.balance(s, user.id)


@pytest.fixture
def trade(store, clock, tmp_path):
    return Trade(store, clock, tmp_path)


def test_squatted_market_keys_stop_nothing(trade):
    cli = trade.cli
    confirm, revoke, resolve, deadline, auto = (trade.accepted() for _ in range(5))
    live = (confirm, revoke, resolve, deadline, auto)
    # Every market key of every live order, in the old predictable form and in the new
    # stored form, typed as wang's keys: the exact command through the CLI, the
    # rest through the service that command calls (one transaction keeps the test fast).
    squatted = [
        key
        for order_id in live
        for operation in MARKET_OPERATIONS
        for key in (f"order:{order_id}:{operation}", f"market:order:{order_id}:{operation}")
    ]
    by_cli = [f"order:{deadline}:deadline-refund", f"market:order:{deadline}:deadline-refund"]
    # The service first: once wang logs in (the CLI), his records need his signature.
    with trade.store.write() as s:
        for key in set(squatted) - set(by_cli):
            assert not ledger.topup(s, trade.clock, trade.wang.id, 1, key).replayed
    for key in by_cli:
        cli("wallet", "topup", "0.01", "--as", "wang", "--key", key)
    assert trade.balance(trade.wang) == len(squatted) == len(live) * len(MARKET_OPERATIONS) * 2

    for order_id in live:
        paid = cli.json("order", "pay", str(order_id), "--as", "bob", "--confirm")
        assert (paid["status"], paid["replayed"]) == ("paid", False)
    assert cli.json("order", "pay", str(confirm), "--as", "bob", "--confirm")["replayed"]
    cli("order", "deliver", str(confirm), "--as", "lin")
    assert (
        cli.json("order", "confirm", str(confirm), "--as", "bob", "--confirm")["status"]
        == "completed"
    )
    assert (
        cli.json("order", "revoke", str(revoke), "--as", "bob", "--confirm")["status"] == "refunded"
    )
    cli("order", "dispute", str(resolve), "--reason", "Broken", "--as", "bob")
    split = cli.json("order", "resolve", str(resolve), "split", "20", "--as", "mei", "--confirm")
    assert split["status"] == "resolved"
    cli("order", "deliver", str(auto), "--as", "lin")

    # Eleven days on: the next command runs both timers, and every command still works.
    for command in (("verify",), ("user", "list"), ("search", "piano", "--as", "wang")):
        cli(*command, P2PMARKET_NOW=LATER)
    assert trade.order(deadline, P2PMARKET_NOW=LATER)["status"] == "refunded"
    assert trade.order(auto, P2PMARKET_NOW=LATER)["status"] == "completed"
    # bob paid five lessons: two came back (revoke, deadline), 30 of one came back by the split.
    assert trade.balance(trade.bob) == 100_000 - 3 * PRICE + 3000
    assert trade.balance(trade.lin) == 2 * PRICE + 2000
    with trade.store.read() as s:
        assert ledger.totals(s).escrow == 0
        assert audit.verify(s).ok


def test_the_same_key_text_is_each_persons_own(trade):
    cli = trade.cli
    for who in ("bob", "wang"):
        first = cli.json("wallet", "topup", "5", "--as", who, "--key", "shared")
        assert first["replayed"] is False
    again = cli.json("wallet", "topup", "5", "--as", "bob", "--key", "shared")
    assert again["replayed"] is True
    other = cli("wallet", "topup", "6", "--as", "bob", "--key", "shared", code=1)
    assert "'shared' was already used for a different request" in other.output
    assert "user:" not in other.output
    # A person's text can't reach into another person's space, whatever it spells.
    cli("wallet", "topup", "1", "--as", "wang", "--key", f"user:{trade.bob.id}:mine")
    mine = cli.json("wallet", "topup", "2", "--as", "bob", "--key", "mine")
    assert mine["replayed"] is False
    assert trade.balance(trade.bob) == 100_000 + 500 + 200
    assert trade.balance(trade.wang) == 500 + 100


def test_a_buyers_own_pay_key_is_theirs_alone(trade):
    first, second = trade.accepted(), trade.accepted()
    trade.cli("wallet", "topup", "1", "--as", "wang", "--key", "my-pay")
    pay = ("order", "pay", str(first), "--as", "bob", "--confirm", "--key", "my-pay")
    assert trade.cli.json(*pay)["replayed"] is False
    assert trade.cli.json(*pay)["replayed"] is True
    with trade.store.write() as s, pytest.raises(Refused, match="'my-pay' was already used"):
        bob = s.get(User, trade.bob.id)
        orders.act(s, trade.clock, Settings(), bob, second, "pay", key="my-pay")
    assert trade.balance(trade.bob) == 100_000 - PRICE


def test_a_failing_timer_stops_only_its_own_order(trade):
    broken, fine = trade.accepted(qty=2), trade.accepted(qty=1)
    for order_id in (broken, fine):
        trade.cli("order", "pay", str(order_id), "--as", "bob", "--confirm")
    # A damaged store: escrow holds only the smaller order, so the first refund must fail.
    with trade.store.write() as s:
        s.execute(
            text("UPDATE account SET balance = :held WHERE kind = :escrow"),
            {"held": PRICE, "escrow": AccountKind.escrow.value},
        )
    # Read-only now (its timers too), until the operator accepts the damage.
    assert "fails verify" in trade.cli("user", "list", P2PMARKET_NOW=LATER).stderr
    assert trade.order(broken, P2PMARKET_NOW=LATER)["timer_failed_at"] is None
    trade.cli("verify", "--accept", "--as", "bob", P2PMARKET_NOW=LATER)
    for command in (("user", "list"), ("search", "piano", "--as", "wang")):
        trade.cli(*command, P2PMARKET_NOW=LATER)
    shown = trade.order(broken, P2PMARKET_NOW=LATER)
    assert shown["status"] == "paid" and shown["timer_failed_at"] is not None
    failure = shown["timeline"][-1]
    assert (failure["actor"], failure["from_status"], failure["to_status"]) == (
        None,
        "paid",
        "paid",
    )
    assert failure["note"].startswith("the refund for the missed delivery deadline failed: ")
    assert "Escrow holds ¥50.00 but this needs ¥100.00" in failure["note"]
    seller_sees = trade.cli("order", "show", str(broken), "--as", "lin").output
    assert f"A timer of order #{broken} failed at 2026-11-12" in seller_sees
    assert trade.order(fine, P2PMARKET_NOW=LATER)["status"] == "refunded"
    assert trade.balance(trade.bob) == 100_000 - 3 * PRICE + PRICE
    # Recorded once: later commands neither retry it nor record it again.
    trade.cli("user", "list", P2PMARKET_NOW="2026-11-20T10:00:00")
    with trade.store.read() as s:
        notes = s.exec(select(OrderEvent.note).where(OrderEvent.order_id == broken)).all()
        assert sum("failed" in n for n in notes) == 1
    # verify still names the damage (the balance no longer matches its entries).
    assert trade.cli("verify", code=1).exit_code == 1


def test_a_timer_failing_after_its_payout_is_rolled_back_whole(trade, monkeypatch):
    """The payout was written when the failure came (here: the credit step after it):
    the savepoint takes back that order's transfer, stock and event, and only those."""
    broken, fine = trade.accepted(qty=2), trade.accepted(qty=1)
    with trade.store.write() as s:
        orders.pay_many(s, trade.clock, Settings(), s.get(User, trade.bob.id), [broken, fine])
    recompute, calls = credit.recompute, []

    def first_fails(*args, **kw):
        calls.append(args)
        if len(calls) == 1:
            raise Refused("credit_broken", "The credit rules could not be read.")
        return recompute(*args, **kw)

    monkeypatch.setattr(credit, "recompute", first_fails)
    trade.clock.advance(8 * DAY)
    with trade.store.write() as s:
        assert orders.tick(s, trade.clock, Settings()) == [fine]
    with trade.store.write() as s:
        assert orders.tick(s, trade.clock, Settings()) == []
        order = s.get(Order, broken)
        assert (order.status, order.timer_failed_at) == ("paid", trade.clock.now())
        assert not orders.anything_due(s, trade.clock)
        keys = s.exec(select(Transfer.idem_key).where(Transfer.order_id == broken)).all()
        assert keys == [ledger.market_key(broken, "pay")]
        assert ledger.totals(s).escrow == 2 * PRICE
        assert audit.verify(s).ok
    assert trade.balance(trade.bob) == 100_000 - 2 * PRICE


@pytest.mark.sqlite_only
def test_an_old_stores_keys_move_into_their_spaces(tmp_path, clock):
    home = tmp_path / "old"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v1.db", home / "market.db")
    raw = sqlite3.connect(home / "market.db")
    # Written the old way: wang (4) squatted order 2's payment key, and chen (5) once typed
    # a key that is exactly demo's key in the new form (the migration must not collide).
    raw.executemany(
        "INSERT INTO transfer (id, idem_key, fingerprint, kind, order_id, actor_id, created_at)"
        " VALUES (?, ?, 'old', 'topup', NULL, ?, 0)",
        [(4, "order:2:pay", 4), (5, "user:1:v1-fund", 5)],
    )
    raw.commit()
    raw.close()
    store = Store.open(config_mod.resolve(home=home))
    try:
        with store.read() as s:
            keys = dict(s.exec(select(Transfer.id, Transfer.idem_key)).all())
            assert audit.verify(s).ok
        assert keys == {
            1: "user:1:v1-fund",
            2: "market:order:1:pay",
            3: "market:order:1:release",
            4: "user:4:order:2:pay",
            5: "user:5:user:1:v1-fund",
        }
        with store.write() as s:
            demo, chen = s.get(User, 1), s.get(User, 5)
            # Retries across the upgrade replay: demo's top-up, and order 1's payment.
            assert ledger.topup(s, clock, demo.id, 100_000, "v1-fund").replayed
            assert orders.act(s, clock, Settings(), demo, 1, "pay").replayed
            assert not ledger.topup(s, clock, chen.id, 100, "v1-fund").replayed
            # The squatted key stops nothing: order 2 is accepted and paid.
            orders.act(s, clock, Settings(), chen, 2, "accept")
            assert orders.act(s, clock, Settings(), demo, 2, "pay").status == "paid"
        with store.read() as s:
            assert s.exec(select(Order.timer_failed_at)).all() == [None, None]
    finally:
        store.close()
