"""Payments, refunds and disputes from several processes at once on PostgreSQL.

Hypothesis draws what each process does to a handful of shared orders; the processes
start together, each with its own connection, and the ledger must come out whole:
balances sum to zero, no wallet below zero, escrow equal to the orders it holds, verify.
"""

from __future__ import annotations

import multiprocessing
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock
from p2pmarket.errors import MarketError
from p2pmarket.market import Market
from p2pmarket.models import Role
from p2pmarket.services.money import ledger
from p2pmarket.services.records import audit
from p2pmarket.store.engine import Store
from tests.conftest import make_user
from tests.services.test_ledger_processes import accepted_orders

pytestmark = pytest.mark.pg
ORDERS, PRICE, NOW = 4, 1000, 1_800_000_000
# Who may try each step: the buyer pays, revokes and disputes; the mediator resolves.
STEPS = {"pay": "bob", "revoke": "bob", "dispute": "lin", "release": "mei", "refund": "mei"}

step = st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, ORDERS - 1))
scripts = st.lists(st.lists(step, min_size=1, max_size=4), min_size=2, max_size=3)


def _play(config, ids: list[int], script: list[tuple[str, int]], start) -> None:
    market = Market.open(config, FixedClock(NOW))
    try:
        start.wait(30)
        for name, index in script:
            actor = market.trusted_actor(STEPS[name])
            try:
                if name in ("release", "refund"):
                    actor.resolve(ids[index], name)
                elif name == "pay":
                    actor.pay(ids[index])
                elif name == "dispute":
                    actor.open_dispute(ids[index], "It did not arrive")
                else:
                    actor.act(ids[index], name)
            except MarketError:
                pass  # refused by the rules (or busy): the ledger must stay whole either way
    finally:
        market.close()


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=scripts)
def test_concurrent_payments_refunds_and_disputes_keep_the_ledger_whole(pg_server, tmp_path, plan):
    name = f"h_{uuid.uuid4().hex[:16]}"
    config = config_mod.resolve(home=tmp_path / name, db=pg_server.create(name))
    clock = FixedClock(NOW)
    store = Store.open(config)
    try:
        buyer = make_user(store, clock, "bob", verified=True)
        seller = make_user(store, clock, "lin", verified=True)
        make_user(store, clock, "mei", role=Role.mediator, verified=True)
        ids = accepted_orders(store, clock, buyer, seller, ORDERS, price=PRICE)
        with store.write() as s:
            # Enough for some of the orders only: payments race for the last of it.
            ledger.topup(s, clock, buyer.id, 2 * PRICE + PRICE // 2, "fund")
        fork = multiprocessing.get_context("fork")
        start = fork.Event()
        procs = [fork.Process(target=_play, args=(config, ids, script, start)) for script in plan]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        with store.read() as s:
            totals = ledger.totals(s)
            assert (totals.sum_of_balances, totals.negative_wallets) == (0, 0)
            report = audit.verify(s)
            assert report.ok, report.problems
    finally:
        store.close()
        pg_server.drop(name)
