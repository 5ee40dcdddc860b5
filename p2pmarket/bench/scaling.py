"""`bench pg` scaling: many clients paying at once on PostgreSQL, and chat beside them.

For each number of clients, on one fresh database:
- distinct pairs: client i pays its own seller i (disjoint wallets and escrows);
- hot wallet: every client pays from one buyer's wallet (one hot row: they collide);
- serial: distinct pairs again under the old one-lock mode (every write transaction
  first takes one market-wide advisory lock, READ COMMITTED), the naive baseline;
- chat: one more client sends messages, alone and then while the distinct pairs pay,
  timing each (p95).
Each client is a thread with a store (one connection) of its own; a payment is one
`Store.transact` unit of work, retried when PostgreSQL aborts it. Afterwards the ledger
is checked: wallets below zero (overdrafts), payments acknowledged but not recorded
(lost), orders paid more than once (duplicated).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from p2pmarket.bench.payments import bench_lesson, bench_orders, bench_user, percentiles

PRICE = 100
# The old market-wide write lock, kept here only as the naive baseline.
SERIAL_LOCK = 0x7032706D61726B74
CHAT_ALONE = 40


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


def _pay_all(store, clock, buyer_id: int, ids: list[int], acked: list, refused: list) -> None:
    from p2pmarket.errors import MarketError
    from p2pmarket.models import User
    from p2pmarket.services.money import orders

    settings = store.config.settings
    for order_id in ids:
        try:
            store.transact(
                lambda s, order_id=order_id: orders.pay(
                    s, clock, settings, s.get(User, buyer_id), order_id
                )
            )
            acked.append(order_id)
        except MarketError as exc:
            refused.append(exc.code)


def _chat(store, clock, talkers: tuple[int, int], until: Callable[[int], bool]) -> list[float]:
    from p2pmarket.models import User
    from p2pmarket.services.trust import chat

    sender, recipient = talkers
    settings, samples, i = store.config.settings, [], 0
    while not until(i):
        start = time.perf_counter()
        store.transact(
            lambda s, i=i: chat.send(
                s, clock, s.get(User, sender), s.get(User, recipient), f"m{i}", settings=settings
            )
        )
        samples.append((time.perf_counter() - start) * 1000)
        i += 1
    return samples


def _run(stores, clock, plan: list, chat_store=None, talkers=None) -> dict:
    """Every client pays its orders at once (a thread each); chat meanwhile if given."""
    acked, refused = [], []
    threads = [
        threading.Thread(target=_pay_all, args=(store, clock, buyer, ids, acked, refused))
        for store, (buyer, ids) in zip(stores, plan, strict=False)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    chat_ms = []
    if chat_store is not None:
        chat_ms = _chat(
            chat_store, clock, talkers, lambda _: not any(t.is_alive() for t in threads)
        )
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return {"acked": acked, "refused": refused, "per_second": len(acked) / seconds, "chat": chat_ms}


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
        url = db_url_for(f"scale{count}")
        cfg = replace(config, db_url=url)
        main = Store.open(cfg)
        plans = _setup(main, clock, count, per_client)
        ours = [Store.open(cfg) for _ in range(count)]
        serial = [Store.open(cfg) for _ in range(count)]
        for store in serial:
            _serial(store)
        chatter = Store.open(cfg)
        try:
            alone = _chat(chatter, clock, plans["chat"], lambda i: i >= CHAT_ALONE)
            distinct = _run(ours, clock, plans["distinct"], chatter, plans["chat"])
            hot = _run(ours, clock, plans["hot"])
            naive = _run(serial, clock, plans["serial"])
            acked = set(distinct["acked"] + hot["acked"] + naive["acked"])
            check = _ledger_check(main, [plans["distinct"], plans["hot"], plans["serial"]], acked)
        finally:
            for store in [main, chatter, *ours, *serial]:
                store.close()
        refused = distinct["refused"] + hot["refused"] + naive["refused"]
        rows.append(
            {
                "clients": count,
                "payments_per_client": per_client,
                "payments_per_second": round(distinct["per_second"], 1),
                "serial_payments_per_second": round(naive["per_second"], 1),
                "hot_wallet_per_second": round(hot["per_second"], 1),
                "chat_p95_ms_alone": percentiles(alone)["p95_ms"],
                "chat_p95_ms_during_payments": percentiles(distinct["chat"] or [0.0])["p95_ms"],
                "chat_messages_during_payments": len(distinct["chat"]),
                "refused": {code: refused.count(code) for code in set(refused)},
                **check,
            }
        )
    return rows
