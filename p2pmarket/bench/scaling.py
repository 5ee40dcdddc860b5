"""`bench pg` scaling: many clients paying at once on PostgreSQL, and chat beside them.

For each number of clients, on one fresh database, every client is a process of its own
(a store, one connection: as many CLI calls or terminals at once; threads would queue on
Python's one interpreter lock instead of on the store):
- distinct pairs: client i pays its own seller i (disjoint wallets and escrows), while
  one more process sends chat messages;
- hot wallet: every client pays from one buyer's wallet (one hot row: they collide);
- serial: distinct pairs again under the old one-lock mode (every write transaction
  first takes one market-wide advisory lock, READ COMMITTED), the naive baseline, with
  the same chat beside it;
- chat alone: the chat process with nobody paying.
A payment is one `Store.transact` unit of work, retried when PostgreSQL aborts it; each
is timed (p50/p95). Afterwards the ledger is checked: wallets below zero (overdrafts),
payments acknowledged but not recorded (lost), orders paid more than once (duplicated).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import make_url

from p2pmarket.bench.cost import Meter
from p2pmarket.bench.payments import bench_lesson, bench_orders, bench_user, percentiles

PRICE = 100
# The old market-wide write lock, kept here only as the naive baseline.
SERIAL_LOCK = 0x7032706D61726B74
CHAT_ALONE = 40
CHAT_NAME = "bench_chat"
# Fork: a client inherits the imported code and starts at once (no pickling of the config).
FORK = multiprocessing.get_context("fork")
REPORT_TIMEOUT_S = 900


def _serial(store) -> None:
    """Make every write transaction of `store` queue on one lock, as before (the baseline)."""
    from sqlalchemy import event

    @event.listens_for(store.engine, "begin")
    def _lock(conn) -> None:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SERIAL_LOCK})")


def _setup(store, clock, clients: int, per_client: int) -> dict:
    """Buyers, sellers, orders for each plan, and two people who chat."""
    from p2pmarket.services.money import ledger

    plans: dict = {"distinct": [], "serial": [], "hot": []}
    with store.write() as s:
        hot_buyer = bench_user(s, clock, "hot_buyer")
        ledger.topup(s, clock, hot_buyer.id, PRICE * clients * per_client, "fund-hot")
        for i in range(clients):
            seller = bench_user(s, clock, f"seller{i}")
            listing = bench_lesson(s, clock, seller, PRICE, 3 * per_client)
            for plan in ("distinct", "serial"):
                buyer = bench_user(s, clock, f"{plan}_buyer{i}")
                ledger.topup(s, clock, buyer.id, PRICE * per_client, f"fund-{plan}-{i}")
                ids = bench_orders(s, clock, listing, seller, buyer, per_client)
                plans[plan].append((buyer.id, ids))
            ids = bench_orders(s, clock, listing, seller, hot_buyer, per_client)
            plans["hot"].append((hot_buyer.id, ids))
        talkers = (bench_user(s, clock, "chat_a").id, bench_user(s, clock, "chat_b").id)
    return {**plans, "chat": talkers}


def _store(config, serial: bool, name: str | None = None):
    """A client's store; `name` its connections' application_name (pg_stat_activity)."""
    from p2pmarket.store.engine import Store

    if name is not None:
        url = make_url(config.db_url).update_query_dict({"application_name": name})
        config = replace(config, db_url=url.render_as_string(hide_password=False))
    store = Store.open(config)
    if serial:
        _serial(store)
    return store


def _payer(config, clock, serial: bool, buyer_id: int, ids: list[int], start, out) -> None:
    """One client process: pay each order in its own unit of work; report what happened."""
    from p2pmarket.errors import MarketError
    from p2pmarket.models import User
    from p2pmarket.services.money import orders

    store = _store(config, serial)
    settings = store.config.settings
    acked, refused, took = [], [], []
    meter = Meter(store)
    start.wait()
    meter.start()
    for order_id in ids:
        began = time.perf_counter()
        try:
            store.transact(
                lambda s, order_id=order_id: orders.pay(
                    s, clock, settings, s.get(User, buyer_id), order_id
                )
            )
            acked.append(order_id)
        except MarketError as exc:
            refused.append(exc.code)
        took.append((time.perf_counter() - began) * 1000)
    costs = meter.per(len(ids))
    store.close()
    out.put(("pay", acked, refused, took, costs))


def _chatter(config, clock, serial: bool, talkers, start, stop, most: int | None, out) -> None:
    """The chat process: send messages until `stop` is set (or `most` are sent), timing each."""
    from p2pmarket.models import User
    from p2pmarket.services.trust import chat

    store = _store(config, serial, CHAT_NAME)
    settings = store.config.settings
    sender, recipient = talkers
    took: list[float] = []
    meter = Meter(store)
    start.wait()
    meter.start()
    while not stop.is_set() and (most is None or len(took) < most):
        began = time.perf_counter()
        store.transact(
            lambda s, i=len(took): chat.send(
                s, clock, s.get(User, sender), s.get(User, recipient), f"m{i}", settings=settings
            )
        )
        took.append((time.perf_counter() - began) * 1000)
    costs = meter.per(max(1, len(took)))
    store.close()
    out.put(("chat", took, costs))


def _run(config, clock, plan: list, *, serial: bool = False, talkers=None, most=None) -> dict:
    """Every client of `plan` pays its orders at once, a process each; chat beside them if
    `talkers` are given (alone, sending `most` messages, when `plan` is empty)."""
    start = FORK.Barrier(len(plan) + (talkers is not None) + 1)
    stop, out = FORK.Event(), FORK.Queue()
    procs = [
        FORK.Process(target=_payer, args=(config, clock, serial, buyer, ids, start, out))
        for buyer, ids in plan
    ]
    if talkers is not None:
        procs.append(
            FORK.Process(
                target=_chatter, args=(config, clock, serial, talkers, start, stop, most, out)
            )
        )
    for p in procs:
        p.start()
    start.wait()
    began = time.perf_counter()
    acked, refused, took, chat_ms, costs = [], [], [], [], []
    chat_costs = None
    with _Waits(config.db_url) as waits:
        for _ in plan:
            _, got, no, ms, cost = out.get(timeout=REPORT_TIMEOUT_S)
            acked += got
            refused += no
            took += ms
            costs.append(cost)
        seconds = time.perf_counter() - began
        if plan:  # chat alone stops by itself, after `most`
            stop.set()
        if talkers is not None:
            _, chat_ms, chat_costs = out.get(timeout=REPORT_TIMEOUT_S)
    for p in procs:
        p.join()
    return {
        "acked": acked,
        "refused": refused,
        "per_second": round(len(acked) / seconds, 1) if plan else 0.0,
        "latency": percentiles(took or [0.0]),
        "chat": percentiles(chat_ms or [0.0]),
        "costs": _mean(costs),
        "chat_costs": chat_costs,
        "waits": waits.shares(),
    }


def _mean(costs: list[dict]) -> dict | None:
    """Each client's milliseconds per payment, averaged over the clients (None: unread)."""
    if not costs:
        return None
    return {
        key: None
        if any(c[key] is None for c in costs)
        else round(sum(c[key] for c in costs) / len(costs), 2)
        for key in costs[0]
    }


class _Waits:
    """What the chat's and the payers' server processes are doing, sampled every
    `EVERY_S` from pg_stat_activity: on a core or waiting for one ("running"), waiting on
    a lock of a row or transaction ("Lock:…"), on the WAL or the disk ("LWLock:…",
    "IO:…"), on their client process ("Client:ClientRead", "idle": the client's Python or
    its turn for a core); and how many processes the machine had runnable (/proc/loadavg)."""

    EVERY_S = 0.02

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.seen: dict[str, dict[str, int]] = {"chat": {}, "payers": {}}
        self.runnable: list[int] = []
        self.done = threading.Event()

    def __enter__(self) -> _Waits:
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.done.set()
        self.thread.join()

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.done.wait(self.EVERY_S):
                rows = conn.execute(
                    "SELECT application_name, state, wait_event_type, wait_event"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                for name, state, kind, what in rows:
                    doing = (
                        "running"
                        if state == "active" and kind is None
                        else (f"{kind}:{what}" if kind else str(state))
                    )
                    side = self.seen["chat" if name == CHAT_NAME else "payers"]
                    side[doing] = side.get(doing, 0) + 1
                with open("/proc/loadavg") as load:
                    self.runnable.append(int(load.read().split()[3].split("/")[0]))

    def shares(self) -> dict:
        """Each side's share of samples per state (most first), and the runnable mean."""
        shares = {}
        for side, seen in self.seen.items():
            total = sum(seen.values()) or 1
            ranked = sorted(seen.items(), key=lambda kv: -kv[1])
            shares[side] = {doing: round(n / total, 3) for doing, n in ranked}
        runnable = self.runnable or [0]
        shares["runnable_mean"] = round(sum(runnable) / len(runnable), 1)
        return shares


def _ledger_check(store, plans: list, acked: set[int]) -> dict:
    from sqlalchemy import func
    from sqlmodel import col, select

    from p2pmarket.models import Order, OrderStatus, Transfer
    from p2pmarket.services.money import ledger

    ids = [order_id for plan in plans for _, order_ids in plan for order_id in order_ids]
    with store.read() as s:
        paid = set(
            s.exec(
                select(Order.id).where(col(Order.id).in_(ids), Order.status == OrderStatus.paid)
            ).all()
        )
        twice = s.exec(
            select(func.count()).select_from(
                select(Transfer.order_id)
                .where(Transfer.kind == "pay", col(Transfer.order_id).in_(ids))
                .group_by(col(Transfer.order_id))
                .having(func.count() > 1)
                .subquery()
            )
        ).one()
        totals = ledger.totals(s)
    return {
        "overdrafts": totals.negative_wallets,
        "lost": len(acked - paid),
        "duplicated": twice + len(paid - acked),
        "sum_of_balances": totals.sum_of_balances,
    }


def bench_scaling(
    config, clock, db_url_for: Callable[[str], str], clients: list[int], payments: int
):
    """One row per client count (see the module docstring)."""
    from p2pmarket.store.engine import Store

    rows = []
    for count in clients:
        per_client = max(5, payments // count)
        cfg = replace(config, db_url=db_url_for(f"scale{count}"))
        main = Store.open(cfg)
        plans = _setup(main, clock, count, per_client)
        # No connection may cross a fork: the clients open their own.
        main.close()
        alone = _run(cfg, clock, [], talkers=plans["chat"], most=CHAT_ALONE)
        distinct = _run(cfg, clock, plans["distinct"], talkers=plans["chat"])
        hot = _run(cfg, clock, plans["hot"])
        naive = _run(cfg, clock, plans["serial"], serial=True, talkers=plans["chat"])
        acked = set(distinct["acked"] + hot["acked"] + naive["acked"])
        main = Store.open(cfg)
        try:
            check = _ledger_check(main, [plans["distinct"], plans["hot"], plans["serial"]], acked)
        finally:
            main.close()
        refused = distinct["refused"] + hot["refused"] + naive["refused"]
        rows.append(
            {
                "clients": count,
                "payments_per_client": per_client,
                "payments_per_second": distinct["per_second"],
                "payment_ms": distinct["latency"],
                "serial_payments_per_second": naive["per_second"],
                "serial_payment_ms": naive["latency"],
                "hot_wallet_per_second": hot["per_second"],
                "hot_wallet_payment_ms": hot["latency"],
                "chat_p95_ms_alone": alone["chat"]["p95_ms"],
                "chat_ms_alone": alone["chat"],
                "chat_p95_ms_during_payments": distinct["chat"]["p95_ms"],
                "chat_ms_during_payments": distinct["chat"],
                "chat_ms_during_serial_payments": naive["chat"],
                "cost_ms_per_payment": distinct["costs"],
                "hot_wallet_cost_ms_per_payment": hot["costs"],
                "chat_cost_ms_alone": alone["chat_costs"],
                "chat_cost_ms_during_payments": distinct["chat_costs"],
                "waits_during_payments": distinct["waits"],
                "refused": {code: refused.count(code) for code in set(refused)},
                **check,
            }
        )
    return rows
