"""Benchmarks that print numbers and ratios against a naive baseline in the same run.

Each benchmark returns a plain dict (printed by `p2pmarket bench …`, or as --json).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else None
    return {
        "n": len(ordered),
        "p50_ms": round(cut[49] if cut else ordered[0], 3),
        "p95_ms": round(cut[94] if cut else ordered[0], 3),
    }


def time_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def wall_and_cpu_ms(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one call: on a busy machine the CPU time still says what the
    work costs, the wall time what a person waits."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def load_since(before: float) -> dict:
    """The machine's 1-minute load average when a bench began (`before`, os.getloadavg()[0])
    and now, beside its cores: what its wall times were measured under."""
    now = os.getloadavg()[0]
    return {"before": round(before, 2), "after": round(now, 2), "cores": os.cpu_count()}


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def demo_home(home: str) -> None:
    """The hand-written demo market loaded into the (new) market folder `home`: what the
    benches that start the real CLI or TUI run against."""
    from p2pmarket import config as config_mod
    from p2pmarket.clock import SystemClock
    from p2pmarket.services.market import demo
    from p2pmarket.store.engine import Store

    store = Store.open(config_mod.resolve(home=Path(home)))
    demo.load_demo(store, SystemClock())
    store.close()


BENCH_PASSPHRASE = "bench-pass"


def bench_user(session, clock, handle: str):
    """A verified person at one fixed place, cheap to hash: a payer or payee of a bench."""
    from p2pmarket.models import User
    from p2pmarket.services.trust import accounts

    view = accounts.create_user(
        session,
        clock,
        handle=handle,
        real_name=handle,
        passphrase=BENCH_PASSPHRASE,
        lat=31.23,
        lon=121.47,
        verified=True,
        hash_profile="cheapest",
    )
    return session.get(User, view.id)


def bench_lesson(session, clock, seller, price: int, quantity: int):
    """The one listing every bench order buys from: `quantity` lessons at `price`."""
    from p2pmarket.models import Kind, Unit
    from p2pmarket.services.market import shops

    return shops.add_listing(
        session,
        clock,
        seller,
        kind=Kind.skill,
        title="Bench lesson",
        category="piano-lessons",
        price=price,
        unit=Unit.hour,
        quantity=quantity,
    )


def bench_orders(session, clock, listing, seller, buyer, count: int) -> list[int]:
    """`count` accepted orders of one lesson each, ready to pay; their ids."""
    from p2pmarket.models import Kind, Order, OrderStatus

    rows = [
        Order(
            listing_id=listing.id,
            title=listing.title,
            buyer_id=buyer.id,
            seller_id=seller.id,
            kind=Kind.skill,
            quantity=1,
            unit_price=listing.price,
            amount=listing.price,
            status=OrderStatus.accepted,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        for _ in range(count)
    ]
    session.add_all(rows)
    session.flush()
    return [o.id for o in rows]


def payment_market(workdir: Path, count: int, db_url: str | None = None):
    """A durable store with one funded buyer and `count` accepted orders to pay."""

    from p2pmarket import config as config_mod
    from p2pmarket.clock import FixedClock
    from p2pmarket.services.money import ledger
    from p2pmarket.store.engine import Store

    cfg = config_mod.resolve(home=workdir, db=db_url)
    store = Store.open(cfg)
    clock = FixedClock(1_800_000_000)
    with store.write() as s:
        buyer, seller = (bench_user(s, clock, h) for h in ("bench_buyer", "bench_seller"))
        listing = bench_lesson(s, clock, seller, 100, count)
        ledger.topup(s, clock, buyer.id, 100 * count, "bench-fund")
        ids = bench_orders(s, clock, listing, seller, buyer, count)
    with store.read() as s:
        wallet_id = ledger.wallet(s, buyer.id).id
    return store, clock, buyer.id, ids, wallet_id


def _count_into(statements: list) -> Callable:
    def count(_conn, _cursor, statement, *_):
        statements.append(statement)

    return count


def _verify_times(store, clock, refunded: list[int]) -> dict:
    """`verify --full` over the batched plan's store, then one incremental verify after
    `refunded` orders were revoked (new rows in their order, wallet and escrow chains)."""
    from p2pmarket.market import Market, records
    from p2pmarket.models import Order, User
    from p2pmarket.services.money import orders

    market = Market(store, clock)
    start = time.perf_counter()
    full = records.verify(market, full=True)
    full_ms = (time.perf_counter() - start) * 1000
    with store.write() as s:
        buyer = s.get(User, s.get(Order, refunded[0]).buyer_id)
        for order_id in refunded:
            orders.act(s, clock, store.config.settings, buyer, order_id, "revoke")
    start = time.perf_counter()
    incremental = records.verify(market)
    incremental_ms = (time.perf_counter() - start) * 1000
    assert full.ok and incremental.ok, (full.problems, incremental.problems)
    return {
        "full_ms": round(full_ms, 1),
        "full_rows": sum(full.rows_checked.values()),
        "incremental_ms": round(incremental_ms, 1),
        "incremental_rows": sum(incremental.rows_checked.values()),
    }


def bench_payments(
    count: int, workdir: Path, batch: int = 100, db_url_for: Callable[[str], str] | None = None
) -> dict:
    """Committed escrow payments per second on a durable SQLite file (WAL, synchronous=FULL).

    - single: each payment its own BEGIN IMMEDIATE transaction and fsync (one CLI call);
    - batched: `batch` payments per transaction, each in a savepoint (`order pay ID ID …`),
      so one fsync covers many payments: group commit;
    - naive: single, with the balance recomputed from the wallet's entries at every payment
      (a ledger without a running balance).
    The disk's own limit is shown too: durable commits per second of a one-row write with
    the same pragmas (what bounds `single`), the SQL statements one payment runs, and the
    CPU one payment costs this process (single and batched).
    """
    from sqlalchemy import event, func
    from sqlmodel import select

    from p2pmarket.models import Entry, Meta, User
    from p2pmarket.services.money import orders

    rates = {}
    for plan in ("single", "batched", "naive"):
        # db_url_for(plan): a fresh empty database per plan (bench_pg.py), else SQLite files.
        url = db_url_for(plan) if db_url_for else None
        store, clock, buyer_id, ids, wallet_id = payment_market(workdir / plan, count, url)
        settings = store.config.settings
        statements = []
        event.listen(store.engine, "before_cursor_execute", _count_into(statements))
        start, cpu = time.perf_counter(), time.process_time()
        if plan == "batched":
            for i in range(0, len(ids), batch):
                with store.write() as s:
                    results = orders.pay_many(
                        s, clock, settings, s.get(User, buyer_id), ids[i : i + batch]
                    )
                    assert all(isinstance(r, orders.OrderView) for r in results)
        else:
            for order_id in ids:
                with store.write() as s:
                    if plan == "naive":
                        s.exec(select(func.sum(Entry.amount)).where(Entry.account_id == wallet_id))
                    orders.act(s, clock, settings, s.get(User, buyer_id), order_id, "pay")
        rates[plan] = round(count / (time.perf_counter() - start))
        # This process's CPU per payment: what a payment costs the client, however busy the
        # machine (wall rates move with the load, this barely does).
        rates[f"{plan}_cpu_ms"] = round((time.process_time() - cpu) * 1000 / count, 2)
        if plan == "batched":
            rates["verify"] = _verify_times(store, clock, ids[-batch:])
        # Every statement sent, BEGIN included (COMMIT is a driver call, not a statement).
        rates[f"{plan}_statements"] = round(len(statements) / count, 1)
        if plan == "single":
            start = time.perf_counter()
            for i in range(200):
                with store.write() as s:
                    s.merge(Meta(key="bench_commit", value=str(i)))
            rates["disk_commits"] = round(200 / (time.perf_counter() - start))
        store.close()
    return {
        "payments": count,
        "store": "PostgreSQL" if db_url_for else "SQLite file, WAL, synchronous=FULL",
        "disk_commits_per_second": rates["disk_commits"],
        "single_per_second": rates["single"],
        "batched_per_second": rates["batched"],
        "batch": batch,
        "naive_per_second": rates["naive"],
        "statements_per_payment": rates["single_statements"],
        "cpu_ms_per_payment": rates["single_cpu_ms"],
        "batched_cpu_ms_per_payment": rates["batched_cpu_ms"],
        "ratio_single_vs_naive": round(rates["single"] / rates["naive"], 2),
        "ratio_batched_vs_naive": round(rates["batched"] / rates["naive"], 2),
        "verify": rates["verify"],
        "peak_rss_mb": peak_rss_mb(),
    }
