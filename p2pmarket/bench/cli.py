"""`p2pmarket bench cli`: how long a person waits for a command, beside `python -c pass`.

Each command runs as its own process, as a person or a script starts it; wall time and
the CPU time it used are both measured (CPU time holds up on a busy machine, wall time is
what a person feels), with the machine's load average beside them. The store-reading
commands run on a demo market. Each command runs once before it is timed, with Python's
bytecode cache allowed (as on a person's machine, where only a first run compiles), even
when this shell sets PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

from p2pmarket.bench.payments import demo_home, percentiles

# What each command is waited for against (#13: `--help` and `where` ≤ 0.3 s).
GOAL_MS = {"p2pmarket --help": 300.0, "p2pmarket where": 300.0}


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of `command` to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000


def bench_cli(repeat: int = 5) -> dict:
    """p50/p95 wall and p50 CPU per command, each with its ratio to `python -c pass`."""
    from p2pmarket.services.market import demo

    p2pmarket = [sys.executable, "-m", "p2pmarket"]
    with tempfile.TemporaryDirectory(prefix="p2pmarket-cli-bench-") as home:
        demo_home(home)
        env = {
            **os.environ,
            "P2PMARKET_HOME": home,
            "P2PMARKET_PASSPHRASE": demo.demo_data()["passphrase"],
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "p2pmarket --help": [*p2pmarket, "--help"],
            "p2pmarket where": [*p2pmarket, "where"],
            "p2pmarket listing --help": [*p2pmarket, "listing", "--help"],
            "p2pmarket listing show 1": [*p2pmarket, "listing", "show", "1"],
            "p2pmarket search lesson": [*p2pmarket, "search", "lesson", "--as", demo.DEMO_USER],
        }
        rows = {}
        for name, command in commands.items():
            _timed(command, env)  # compiles and caches what it imports, as a first run does
            runs = [_timed(command, env) for _ in range(repeat)]
            wall = percentiles([w for w, _ in runs])
            rows[name] = {**wall, "cpu_p50_ms": percentiles([c for _, c in runs])["p50_ms"]}
    base = rows["python -c pass"]
    for name, row in rows.items():
        row["x_python"] = round(row["p50_ms"] / base["p50_ms"], 1)
        if name in GOAL_MS:
            row["goal_ms"] = GOAL_MS[name]
    return {"repeat": repeat, "load_average": os.getloadavg(), "commands": rows}
