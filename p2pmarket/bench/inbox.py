"""`bench inbox`: writing a listing while 1,000 searches are saved, and reading an inbox.

Ours writes a listing as if no search were saved: a saved search looks at the listings
added since its last look when its owner reads the inbox (search.find_new). The naive plan
matches every new listing against every saved search when it is written and stores the
hits then (bench/naive.py). Both run in the same run, on the same bench market, inside
one transaction that is rolled back at the end, so the cached market stays as it was.
"""

from __future__ import annotations

import time

from p2pmarket.bench.naive import match_saved_at_write
from p2pmarket.bench.payments import peak_rss_mb, percentiles, time_ms
from p2pmarket.bench.search import DENSE, SPARSE, bench_market

# What the one reader owns: a few saved searches (of the 1,000) and a few watches.
READER_SEARCHES = 5
READER_WATCHES = 5
ADDED_PER_READ = 5


class _Undo(Exception):
    """Raised at the end of the bench's transaction: roll everything back."""


def _listing(session, clock, seller, i: int):
    from p2pmarket.models import Kind
    from p2pmarket.services.market import catalog, shops

    goods = [c for c in catalog.categories().values() if Kind.goods in c.kinds]
    cat = goods[i % len(goods)]
    word = cat.words_en[i % len(cat.words_en)]
    return shops.add_listing(
        session,
        clock,
        seller,
        kind=Kind.goods,
        title=f"{word.capitalize()} in good shape {i}",
        category=cat.slug,
        price=1_000 + (i * 7919) % 90_000,
        unit=cat.units[0],
    )


def _save_searches(session, clock, owners, count: int, start: int = 0) -> None:
    from p2pmarket.services.market import catalog, search
    from p2pmarket.services.trust import inbox

    cats = list(catalog.categories().values())
    places = [catalog.area(a) for a in DENSE + SPARSE]
    for i in range(start, start + count):
        cat, place = cats[i % len(cats)], places[i % len(places)]
        owner = owners[((i - start) // inbox.SAVED_MAX) % len(owners)]
        query = search.Query(text=cat.words_en[i % len(cat.words_en)], lat=place.lat, lon=place.lon)
        inbox.save_search(session, clock, owner, f"search {i}", query)


def bench_inbox(
    config,
    clock,
    *,
    listings: int,
    adds: int = 200,
    saved: int = 1000,
    reads: int = 50,
    progress=None,
) -> dict:
    from sqlmodel import col, select

    from p2pmarket.clock import FixedClock
    from p2pmarket.models import Listing, User
    from p2pmarket.services.trust import inbox

    store, seeded = bench_market(config, clock, listings, progress)
    clock = FixedClock(clock.now())  # moved on between inbox reads
    result: dict = {}
    try:
        with store.write() as session:
            people = session.exec(select(User).order_by(col(User.id)).limit(64)).all()
            reader, seller, owners = people[0], people[1], people[2:]
            i = 0

            def add() -> None:
                nonlocal i
                i += 1
                _listing(session, clock, seller, i)

            without = [time_ms(add) for _ in range(adds)]
            _save_searches(session, clock, [reader], READER_SEARCHES)
            _save_searches(session, clock, owners, saved - READER_SEARCHES, READER_SEARCHES)
            with_saved = [time_ms(add) for _ in range(adds)]

            def add_naive() -> None:
                nonlocal i
                i += 1
                made = _listing(session, clock, seller, i)
                match_saved_at_write(session, made.id)

            naive = [time_ms(add_naive) for _ in range(max(5, adds // 20))]
            watched = session.exec(
                select(Listing.id).where(Listing.seller_id != reader.id).limit(READER_WATCHES)
            ).all()
            for listing_id in watched:
                inbox.watch(session, clock, reader, listing_id)

            def look() -> None:
                inbox.gather(session, clock, reader)
                inbox.inbox(session, reader)

            look()  # the first look gathers the reader's whole history
            read_ms = []
            for _ in range(reads):
                for _ in range(ADDED_PER_READ):
                    add()
                clock.advance(60)
                read_ms.append(time_ms(look))
            started = time.perf_counter()
            raise _Undo
    except _Undo:
        result["rollback_s"] = round(time.perf_counter() - started, 2)
    finally:
        store.close()
    ours, plain, eager = percentiles(with_saved), percentiles(without), percentiles(naive)
    result.update(
        listings=listings,
        seeded=seeded,
        saved_searches=saved,
        add_without_saved=plain,
        add_with_saved=ours,
        add_naive_with_saved=eager,
        ratio_p95_naive_vs_ours=round(eager["p95_ms"] / max(ours["p95_ms"], 1e-3), 1),
        ratio_p95_with_vs_without=round(ours["p95_ms"] / max(plain["p95_ms"], 1e-3), 2),
        inbox_read=percentiles(read_ms),
        added_per_read=ADDED_PER_READ,
        reader_searches=READER_SEARCHES,
        peak_rss_mb=peak_rss_mb(),
    )
    return result
