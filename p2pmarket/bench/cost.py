"""`bench pg`: what one payment costs, and so what bounds many clients on few cores.

With one client a payment's wall time is CPU (this process's Python and the server
backend serving it) plus waiting (the commit's fsync, round trips). On C cores, N clients
can at most run C / (CPU per payment) payments per second, so N clients are at most
C × (wall per payment) / (CPU per payment) times as fast as one. This measures each
term for one client: wall, client CPU (process time), the backends' CPU (/proc of the
server's processes: the server must be on this machine, else those are None), the time
either waited for a core (run queue, /proc/<pid>/schedstat: on a machine others load,
the wall less those waits is what one client would take alone, `wall_idle_ms`), the
round trips, and the same payments with `synchronous_commit = off` (the commit's fsync
share of the wall).
Two paths: the bench's own (`orders.pay` in `Store.transact`, unsigned) and a person's
payment through the Market layer (signed, their chain heads remembered).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def proc_seconds(pid: int | str) -> tuple[float, float] | None:
    """(CPU, run-queue wait) of a process so far, in seconds; None when it can't be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        sched = Path(f"/proc/{pid}/schedstat").read_text().split()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces): utime, stime are 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S, int(sched[1]) / 1e9


def backend_pids(store) -> list[int]:
    """The server processes serving `store` (its writes and its reads) in this process."""
    pids = set()
    with store.write() as s:
        pids.add(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar())
    with store.read() as s:
        pids.add(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar())
    return sorted(pids)


class Meter:
    """CPU and run-queue wait of this process and of the backends serving `store`."""

    def __init__(self, store) -> None:
        self.pids = backend_pids(store)
        self.start()

    def _now(self) -> tuple[tuple[float, float], list[tuple[float, float] | None]]:
        return proc_seconds("self"), [proc_seconds(pid) for pid in self.pids]

    def start(self) -> None:
        self.began = time.perf_counter(), self._now()

    def per(self, count: int) -> dict:
        """Milliseconds per each of `count` operations since `start`."""
        wall, (client0, servers0) = self.began
        client1, servers1 = self._now()
        wall_ms = (time.perf_counter() - wall) * 1000 / count

        def ms(a: float, b: float) -> float:
            return round((b - a) * 1000 / count, 2)

        readable = all(servers0) and all(servers1)
        pairs = list(zip(servers0, servers1, strict=True)) if readable else []
        spent = [sum(b[i] - a[i] for a, b in pairs) for i in (0, 1)]
        return {
            "wall_ms": round(wall_ms, 2),
            "client_cpu_ms": ms(client0[0], client1[0]),
            "client_run_queue_ms": ms(client0[1], client1[1]),
            "server_cpu_ms": ms(0, spent[0]) if readable else None,
            "server_run_queue_ms": ms(0, spent[1]) if readable else None,
        }


class RoundTrips:
    """Every message this process sends the server and waits on: statements, the driver's
    BEGIN, COMMIT and ROLLBACK, and the pool's ping at each checkout."""

    EVENTS = ("before_cursor_execute", "begin", "commit", "rollback", "checkout")

    def __init__(self) -> None:
        self.count = 0

    def _add(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> RoundTrips:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        for name in self.EVENTS:
            event.listen(Pool if name == "checkout" else Engine, name, self._add)
        return self

    def __exit__(self, *_exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        for name in self.EVENTS:
            event.remove(Pool if name == "checkout" else Engine, name, self._add)


WARMUP = 5


def _one_client(dbs, workdir: Path, count: int, *, signed: bool, fsync: bool) -> dict:
    """`count` payments from one client on a fresh database, each measured (see above)."""
    from p2pmarket.bench.payments import BENCH_PASSPHRASE, payment_market
    from p2pmarket.market import Market
    from p2pmarket.models import User
    from p2pmarket.services.money import orders

    label = f"cost_{'signed' if signed else 'bench'}_{'on' if fsync else 'off'}"
    url = dbs.fresh(label, synchronous_commit="on" if fsync else "off")
    store, clock, buyer_id, ids, _ = payment_market(workdir / label, count + WARMUP, url)
    try:
        if signed:
            with store.read() as s:
                handle = s.get(User, buyer_id).handle
            actor = Market(store, clock).actor(handle, BENCH_PASSPHRASE)

            def pay(order_id: int) -> None:
                actor.pay(order_id)
        else:
            settings = store.config.settings

            def pay(order_id: int) -> None:
                store.transact(
                    lambda s: orders.pay(s, clock, settings, s.get(User, buyer_id), order_id)
                )

        for order_id in ids[:WARMUP]:  # connections open, the signing key made
            pay(order_id)
        meter = Meter(store)
        with RoundTrips() as trips:
            for order_id in ids[WARMUP:]:
                pay(order_id)
        return {**meter.per(count), "round_trips": round(trips.count / count, 1)}
    finally:
        store.close()


def bench_cost(dbs, workdir: Path, count: int, cores: int | None = None) -> dict:
    """One client's payments, bench path then signed, each with the commit's fsync and
    without (on, off, on, off: a load that comes and goes falls on both); and the bound."""
    cores = cores or os.cpu_count() or 1
    paths = {}
    for signed in (False, True):
        runs = {
            fsync: _one_client(dbs, workdir, count, signed=signed, fsync=fsync)
            for fsync in (True, False)
        }
        on, off = runs[True], runs[False]
        cpu = on["client_cpu_ms"] + (on["server_cpu_ms"] or 0.0)
        # What one client's wall would be on an idle machine: less the time it and its
        # backend waited for a core (others' load, which comes and goes).
        idle = on["wall_ms"] - on["client_run_queue_ms"] - (on["server_run_queue_ms"] or 0.0)
        paths["signed" if signed else "bench"] = {
            **on,
            "cpu_ms": round(cpu, 2),
            "wall_idle_ms": round(idle, 2),
            "commit_wait_ms": round(on["wall_ms"] - off["wall_ms"], 2),
            "without_fsync": off,
            # C cores run at most C / cpu payments a second; one client runs 1 / wall.
            "bound_many_to_one": round(cores * on["wall_ms"] / cpu, 2) if cpu else None,
            "bound_many_to_one_idle": round(cores * idle / cpu, 2) if cpu else None,
            "payments_per_second_bound": round(cores * 1000 / cpu, 1) if cpu else None,
        }
    return {"cores": cores, "payments": count, **paths}
