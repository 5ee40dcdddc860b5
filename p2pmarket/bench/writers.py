"""Many writers at once: how long each waits for the store's write lock.

`writers` processes (16 by default, as many CLI calls at once) each pay `each` orders
back to back, one write transaction per payment, on one durable SQLite file. Each
records how long its BEGIN IMMEDIATE waited. Two plans in the same run:

- ours: the store as it is (`db.begin_immediate`: every waiter asks at one short interval);
- naive: the same payments through an engine that leaves waiting to SQLite's own busy
  handler, whose sleeps grow the longer a writer has waited (1, 2, 5 … 100 ms), so
  newcomers overtake old waiters.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

from p2pmarket.bench.payments import bench_lesson, bench_orders, bench_user, percentiles

PRICE = 100


def _market(home: Path, writers: int, each: int) -> list[tuple[int, list[int]]]:
    """A durable store with `writers` funded buyers, each with `each` accepted orders."""
    from p2pmarket import config as config_mod
    from p2pmarket.clock import FixedClock
    from p2pmarket.services.money import ledger
    from p2pmarket.store.engine import Store

    store = Store.open(config_mod.resolve(home=home))
    clock = FixedClock(1_800_000_000)

    plan = []
    with store.write() as s:
        seller = bench_user(s, clock, "bench_seller")
        listing = bench_lesson(s, clock, seller, PRICE, writers * each)
        for w in range(writers):
            buyer = bench_user(s, clock, f"bench_buyer{w}")
            ledger.topup(s, clock, buyer.id, PRICE * each, f"bench-fund-{w}")
            plan.append((buyer.id, bench_orders(s, clock, listing, seller, buyer, each)))
    store.close()
    return plan


def _naive_engine(url: str, busy_s: float):
    """The store's engine as SQLite alone would wait: its busy handler, plain BEGIN IMMEDIATE."""
    from sqlalchemy import create_engine, event

    engine = create_engine(url, connect_args={"timeout": busy_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL"):
            dbapi_conn.execute(f"PRAGMA {pragma}")
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _writer(home: Path, plan_name: str, buyer_id: int, order_ids: list[int], start, out) -> None:
    """One process: pay each order in its own transaction; report each lock wait in ms."""
    from sqlmodel import Session

    from p2pmarket import config as config_mod
    from p2pmarket.clock import FixedClock
    from p2pmarket.models import User
    from p2pmarket.services.money import orders
    from p2pmarket.store.engine import Store

    config = config_mod.resolve(home=home)
    clock = FixedClock(1_800_000_000)
    store = Store.open(config)
    naive = _naive_engine(config.db_url, config.settings.busy_timeout_s)
    waits, failures = [], 0
    start.wait()
    for order_id in order_ids:
        asked = time.perf_counter()
        try:
            if plan_name == "naive":
                with Session(naive, expire_on_commit=False) as s, s.begin():
                    s.connection()
                    waits.append((time.perf_counter() - asked) * 1000)
                    orders.act(s, clock, config.settings, s.get(User, buyer_id), order_id, "pay")
            else:
                with store.write() as s:
                    s.connection()
                    waits.append((time.perf_counter() - asked) * 1000)
                    orders.act(s, clock, config.settings, s.get(User, buyer_id), order_id, "pay")
        except Exception:  # a writer that gave up waiting: counted, and the run goes on
            failures += 1
    naive.dispose()
    store.close()
    out.put((waits, failures))


def bench_writers(writers: int = 16, each: int = 25) -> dict:
    """Lock waits of `writers` processes paying at once: ours against SQLite's busy handler."""
    fork = multiprocessing.get_context("fork")
    result: dict = {"writers": writers, "payments_each": each}
    for plan_name in ("ours", "naive"):
        with tempfile.TemporaryDirectory(prefix="p2pmarket-bench-writers-") as tmp:
            home = Path(tmp)
            plan = _market(home, writers, each)
            start, out = fork.Barrier(writers + 1), fork.Queue()
            procs = [
                fork.Process(target=_writer, args=(home, plan_name, b, ids, start, out))
                for b, ids in plan
            ]
            for p in procs:
                p.start()
            start.wait()
            began = time.perf_counter()
            reports = [out.get(timeout=600) for _ in procs]
            elapsed = time.perf_counter() - began
            for p in procs:
                p.join()
        waits = [w for got, _ in reports for w in got]
        cut = sorted(waits)
        result[plan_name] = {
            **percentiles(waits),
            "p99_ms": round(cut[min(len(cut) - 1, int(len(cut) * 0.99))], 1),
            "max_ms": round(cut[-1], 1),
            "gave_up": sum(f for _, f in reports),
            "payments_per_second": round(len(waits) / elapsed),
        }
    result["ratio_p99_naive_vs_ours"] = round(
        result["naive"]["p99_ms"] / max(result["ours"]["p99_ms"], 0.001), 1
    )
    return result
