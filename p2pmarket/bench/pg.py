"""`bench pg`: `bench search` and `bench payments` on SQLite and on PostgreSQL, one run.

The search market is the SQLite bench market (seeded once, cached), copied into a
fresh PostgreSQL database with `market_copy`, so both stores hold the same rows and
answer the same query mix. Payments run each plan on a fresh database of its own;
`payment_cost` is what one payment costs one client and the server (bench/cost.py);
`scaling` pays from many clients at once beside the old one-lock mode (bench/scaling.py).
Bench databases are created next to the one in the URL and dropped afterwards, so
the URL's own database is never touched (its user needs CREATEDB).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import make_url

# Payments one client makes to measure what one costs (CPU is read in 10 ms ticks).
COST_PAYMENTS = 300


class Databases:
    """Throwaway databases on the server of `url`."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = make_url(url)
        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(dsn, autocommit=True)
        self.made: list[str] = []

    def fresh(self, label: str, **settings: str) -> str:
        """A new database; `settings` (e.g. synchronous_commit="off") for its sessions."""
        name = f"p2pmarket_bench_{label}_{uuid.uuid4().hex[:8]}"
        self.admin.execute(f"CREATE DATABASE {name}")
        for key, value in settings.items():
            self.admin.execute(f"ALTER DATABASE {name} SET {key} = {value}")
        self.made.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def settings(self) -> dict[str, str]:
        return {
            k: self.admin.execute(f"SHOW {k}").fetchone()[0]
            for k in ("server_version", "fsync", "synchronous_commit")
        }

    def close(self) -> None:
        for name in self.made:
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.close()


def bench_pg(
    config,
    clock,
    db_url: str,
    *,
    listings: int,
    repeat: int,
    payments: int,
    workdir: Path,
    clients: list[int],
    scale_payments: int,
) -> dict:
    from p2pmarket.bench import cost, scaling
    from p2pmarket.bench import payments as bench
    from p2pmarket.bench import search as search_bench
    from p2pmarket.services.records import market_copy
    from p2pmarket.store.engine import Store

    dbs = Databases(db_url)
    try:
        lite = search_bench.bench_search(config, clock, listings=listings, repeat=repeat)
        source, _ = search_bench.bench_market(config, clock, listings)
        target = Store.open(replace(config, db_url=dbs.fresh("search")))
        try:
            start = time.perf_counter()
            copied = market_copy.copy_market(source, target)
            copy_s = round(time.perf_counter() - start, 1)
            source.close()
            pg = search_bench.bench_search(
                config, clock, listings=listings, repeat=repeat, store=target
            )
        finally:
            source.close()
            target.close()
        pay_lite = bench.bench_payments(payments, workdir / "sqlite")
        pay_pg = bench.bench_payments(payments, workdir / "pg", db_url_for=dbs.fresh)
        one = cost.bench_cost(dbs, workdir / "cost", min(payments, COST_PAYMENTS))
        scale = scaling.bench_scaling(config, clock, dbs.fresh, clients, scale_payments)
        server = dbs.settings()
    finally:
        dbs.close()
    return {
        "listings": listings,
        "postgresql": server,
        "copy_to_postgresql": {"seconds": copy_s, "verify_ok": copied.verify.ok},
        "search": {"sqlite": lite, "postgresql": pg},
        "payments": {"sqlite": pay_lite, "postgresql": pay_pg},
        "payment_cost": one,
        "scaling": scale,
    }
