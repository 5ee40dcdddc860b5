"""Sixteen real processes booking one slot of one seller at once, on a real file."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select

from p2pmarket.models import Order, SlotClaim, User
from p2pmarket.services.market import availability
from tests.conftest import PASSPHRASE, make_listing, make_user

ROOT = Path(__file__).resolve().parents[2]
BUYERS = 16


def run_at_once(config, clock, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """Each command a `p2pmarket` process on the market's file, all started at once;
    (exit code, stdout, stderr) of each."""
    env = {
        **os.environ,
        "P2PMARKET_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": str(ROOT),
        "P2PMARKET_NOW": str(clock.now()),
    }
    base = [sys.executable, "-m", "p2pmarket", "--home", str(config.home)]
    procs = [
        subprocess.Popen(
            [*base, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for command in commands
    ]
    return [(p.wait(timeout=180), *p.communicate()) for p in procs]


@pytest.mark.slow
def test_sixteen_processes_booking_one_slot_exactly_one_wins(store, clock, config):
    seller = make_user(store, clock, "lin", verified=True)
    lesson = make_listing(store, clock, seller, quantity=1)
    with store.write() as s:
        availability.set_hours(
            s, clock, s.get(User, seller.id), lesson.id, "mon-fri 09:00-12:00", zone="Asia/Shanghai"
        )
    for n in range(BUYERS):
        make_user(store, clock, f"buyer{n}", verified=True)
    command = ["order", "create", str(lesson.id), "--at", "2026-11-02T10:00"]
    started = time.monotonic()
    results = run_at_once(config, clock, [[*command, "--as", f"buyer{n}"] for n in range(BUYERS)])
    elapsed = time.monotonic() - started
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [1] * (BUYERS - 1), results
    for code, out, err in results:
        assert "Traceback" not in err and "locked" not in (out + err).lower()
        if code == 1:
            assert err.strip() == (
                "error: 2026-11-02 10:00 (UTC+08:00) is taken: the seller of listing "
                f"#{lesson.id} is booked then (with the buffers between bookings). Pick "
                f"another slot (p2pmarket listing slots {lesson.id})."
            )
    with store.read() as s:
        booked = s.exec(select(Order)).all()
        assert len(booked) == 1
        assert {c.order_id for c in s.exec(select(SlotClaim))} == {booked[0].id}
    assert elapsed < 120
