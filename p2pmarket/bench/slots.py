"""Free-slot lookup for one listing on a seller with a long booking history (`bench slots`).

Ours reads the seller's claimed blocks in the days asked for (slot_claim's primary key,
seller then block: a range scan over the live bookings there). The naive plan asks, for
every candidate slot, whether a live order of the seller overlaps it: a scan of the
seller's orders (their index is by seller) per candidate, growing with the history.
"""

from __future__ import annotations

from pathlib import Path

from p2pmarket.bench.payments import (
    bench_lesson,
    bench_user,
    load_since,
    percentiles,
    time_ms,
    wall_and_cpu_ms,
)

ZONE = "Asia/Shanghai"
# Monday 2026-01-05 00:00 in Shanghai.
FIRST_DAY = 1_767_542_400
SLOTS_PER_DAY = 12  # 08:00-20:00, one hour each
DAY = 86_400


def _history(store, clock, listing_id: int, buyer, past: int) -> None:
    """`past` bookings that ended: each booked for its hour, then cancelled by the buyer
    before it (a lifecycle through payment would time the credit rules, not the slots)."""
    from p2pmarket.services.money import orders

    settings = store.config.settings
    day = 0
    while day * SLOTS_PER_DAY < past:
        clock.set(FIRST_DAY + day * DAY)
        todo = min(SLOTS_PER_DAY, past - day * SLOTS_PER_DAY)
        with store.write() as s:
            for hour in range(todo):
                start = FIRST_DAY + day * DAY + (8 + hour) * 3600
                o = orders.book_slot(s, clock, settings, buyer, listing_id, start)
                orders.act(s, clock, settings, buyer, o.id, "cancel")
        day += 1
    clock.set(FIRST_DAY + day * DAY)


def _live(store, clock, listing_id: int, buyer, count: int) -> None:
    """`count` live bookings over the coming weeks: every third slot."""
    from p2pmarket.services.market import availability
    from p2pmarket.services.money import orders

    with store.read() as s:
        free = availability.free_slots(s, clock, ZONE, listing_id, days=30)
    with store.write() as s:
        for slot in free[::3][:count]:
            orders.book_slot(s, clock, store.config.settings, buyer, listing_id, slot.start)


def _naive(store, clock, listing_id: int) -> list:
    """Each candidate slot checked against the seller's live orders with one query."""
    from sqlmodel import col, select

    from p2pmarket.models import Order
    from p2pmarket.services.market import availability
    from p2pmarket.services.money.orders.rules import OPEN

    with store.read() as s:
        hours = availability.hours_of(s, listing_id, ZONE)
        first, last = clock.now(), clock.now() + 7 * DAY
        free = []
        for slot in availability.offered(hours, first, last):
            clash = s.exec(
                select(Order.id).where(
                    Order.seller_id == hours.seller_id,
                    col(Order.status).in_(OPEN),
                    col(Order.slot_start) < slot.end,
                    col(Order.slot_end) > slot.start,
                )
            ).first()
            if clash is None:
                free.append(slot)
        return free


def bench_slots(workdir: Path, past: int = 10_000, live: int = 100, lookups: int = 300) -> dict:
    """p50/p95 of one listing's free slots for the next 7 days, ours against naive."""
    import os
    import time

    from p2pmarket import config as config_mod
    from p2pmarket.clock import FixedClock
    from p2pmarket.models import User
    from p2pmarket.services.market import availability
    from p2pmarket.store.engine import Store

    store = Store.open(config_mod.resolve(home=workdir))
    clock = FixedClock(FIRST_DAY)
    try:
        with store.write() as s:
            seller, buyer = (bench_user(s, clock, h) for h in ("bench_seller", "bench_buyer"))
            listing = bench_lesson(s, clock, seller, 100, 1)
            availability.set_hours(
                s, clock, seller, listing.id, "mon-sun 08:00-20:00", zone=ZONE, window_days=60
            )
            seller_id, buyer_id = seller.id, buyer.id
        with store.read() as s:
            seller, buyer = s.get(User, seller_id), s.get(User, buyer_id)
        started = time.perf_counter()
        _history(store, clock, listing.id, buyer, past)
        _live(store, clock, listing.id, buyer, live)
        seeded_s = time.perf_counter() - started

        def ours():
            with store.read() as s:
                return availability.free_slots(s, clock, ZONE, listing.id, days=7)

        free = ours()
        assert [x.start for x in free] == [x.start for x in _naive(store, clock, listing.id)]
        load = os.getloadavg()[0]
        timed = [wall_and_cpu_ms(ours) for _ in range(lookups)]
        load = load_since(load)
        naive_ms = [time_ms(lambda: _naive(store, clock, listing.id)) for _ in range(lookups // 10)]
    finally:
        store.close()
    result = {
        "past_bookings": past,
        "live_bookings": live,
        "free_slots_7_days": len(free),
        "seeded_s": round(seeded_s, 1),
        "ours": percentiles([wall for wall, _ in timed]),
        "ours_cpu": percentiles([cpu for _, cpu in timed]),
        "naive": percentiles(naive_ms),
    }
    result["load_average"] = load
    result["ratio_p95_naive_vs_ours"] = round(
        result["naive"]["p95_ms"] / max(result["ours"]["p95_ms"], 0.001), 1
    )
    return result
