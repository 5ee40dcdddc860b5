"""`bench pg`: what one payment costs one client and the server, term by term (bench/cost.py)."""

from __future__ import annotations

import pytest

from p2pmarket.bench import cost
from p2pmarket.bench.pg import Databases

pytestmark = pytest.mark.pg


def test_one_payment_is_measured_term_by_term_and_bounds_many_clients(pg_server, tmp_path):
    dbs = Databases(pg_server.url.render_as_string(hide_password=False))
    try:
        got = cost.bench_cost(dbs, tmp_path, 12, cores=2)
    finally:
        dbs.close()
    assert got["cores"] == 2 and got["payments"] == 12
    for path in ("bench", "signed"):
        one = got[path]
        assert one["wall_ms"] > 0 and one["client_cpu_ms"] > 0
        # The test server runs on this machine: its backends' CPU is read from /proc.
        assert one["server_cpu_ms"] is not None and one["server_cpu_ms"] >= 0
        assert one["cpu_ms"] == round(one["client_cpu_ms"] + one["server_cpu_ms"], 2)
        assert one["bound_many_to_one"] == round(2 * one["wall_ms"] / one["cpu_ms"], 2)
        assert one["without_fsync"]["round_trips"] == one["round_trips"]
        assert one["wall_idle_ms"] <= one["wall_ms"]
    # A person's payment signs what it appends and remembers the heads it moved.
    assert got["signed"]["round_trips"] > got["bench"]["round_trips"] > 0
