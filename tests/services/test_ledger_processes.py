"""Real processes on a real file: concurrent payers and writers killed with SIGKILL."""

import multiprocessing
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from p2pmarket.clock import FixedClock
from p2pmarket.models import Order, OrderStatus, Transfer, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.store.engine import Store
from tests.conftest import PASSPHRASE, START, make_listing, make_user

ROOT = Path(__file__).resolve().parents[2]


def accepted_orders(store, clock, buyer, seller, count, price):
    listing = make_listing(store, clock, seller, price=price, quantity=count)
    ids = []
    for _ in range(count):
        with store.write() as s:
            o = orders.create_order(s, clock, s.get(User, buyer.id), listing.id)
            orders.act(s, clock, store.config.settings, s.get(User, seller.id), o.id, "accept")
            ids.append(o.id)
    return ids


@pytest.mark.slow
def test_sixteen_processes_paying_from_one_wallet(store, clock, config):
    buyer = make_user(store, clock, "bob", verified=True)
    seller = make_user(store, clock, "lin", verified=True)
    ids = accepted_orders(store, clock, buyer, seller, 16, price=1000)
    with store.write() as s:
        ledger.topup(s, clock, buyer.id, 10 * 1000, "fund")
    env = {
        **os.environ,
        "P2PMARKET_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": str(ROOT),
        "P2PMARKET_NOW": str(clock.now()),
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "p2pmarket",
                "--home",
                str(config.home),
                "order",
                "pay",
                str(i),
                "--as",
                "bob",
                "--confirm",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in ids
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] * 10 + [1] * 6, results
    for code, out, err in results:
        assert "locked" not in (out + err).lower()
        assert "Traceback" not in err
        if code == 1:
            assert "Not enough money" in err
    with store.read() as s:
        assert ledger.balance(s, buyer.id) == 0
        assert ledger.totals(s).escrow == 10 * 1000
        paid = s.exec(select(Order).where(Order.status == OrderStatus.paid)).all()
        assert len(paid) == 10


def _payer(config, buyer_id, first, last, pipe):
    """The writer killed mid-payment: a forked process with its own store and connection."""
    store = Store.open(config)
    clock = FixedClock(START)
    for order_id in range(first, last + 1):
        key = f"crash-pay-{order_id}"
        with store.write() as session:
            orders.act(
                session,
                clock,
                config.settings,
                session.get(User, buyer_id),
                order_id,
                "pay",
                key=key,
            )
        pipe.send(key)


@pytest.mark.slow
def test_kill_9_mid_payment_loses_nothing_acknowledged(store, clock, config):
    cycles = 50
    buyer = make_user(store, clock, "bob", verified=True)
    seller = make_user(store, clock, "lin", verified=True)
    ids = accepted_orders(store, clock, buyer, seller, 400, price=100)
    with store.write() as s:
        ledger.topup(s, clock, buyer.id, 400 * 100, "fund")
    rng = random.Random(9)
    acked: list[str] = []
    next_order = ids[0]
    killed = 0
    fork = multiprocessing.get_context("fork")
    for _ in range(cycles):
        reader, writer = fork.Pipe(duplex=False)
        proc = fork.Process(target=_payer, args=(config, buyer.id, next_order, ids[-1], writer))
        proc.start()
        writer.close()
        wanted = rng.randint(1, 6)
        while wanted and reader.poll(30):
            acked.append(reader.recv())
            wanted -= 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        killed += 1
        # Restart from the first unacknowledged order: it may have committed before the kill,
        # and paying it again with the same key must not pay twice.
        next_order = int(acked[-1].rsplit("-", 1)[1]) + 1
    assert killed == cycles
    with store.read() as s:
        keys = set(s.exec(select(Transfer.idem_key)).all())
        assert {ledger.user_key(buyer.id, k) for k in acked} <= keys
        paid = s.exec(select(Order).where(Order.status == OrderStatus.paid)).all()
        pays = [k for k in keys if k.startswith(ledger.user_key(buyer.id, "crash-pay-"))]
        assert len(pays) == len(paid)
        assert ledger.balance(s, buyer.id) == 400 * 100 - 100 * len(paid)
        t = ledger.totals(s)
        assert (t.sum_of_balances, t.negative_wallets, t.escrow) == (0, 0, 100 * len(paid))
    # Retrying every acknowledged key replays; nothing is paid twice.
    with store.write() as s:
        for key in acked:
            order_id = int(key.rsplit("-", 1)[1])
            again = orders.act(
                s, clock, config.settings, s.get(User, buyer.id), order_id, "pay", key=key
            )
            assert again.replayed
    with store.read() as s:
        assert ledger.balance(s, buyer.id) == 400 * 100 - 100 * len(paid)
