"""`bench search` and `bench price`: our index plans against the naive plan, same run, same market.

Kept beside bench/payments.py (which holds the shared timing helpers) so the search
benchmarks and the money benchmarks can change independently.
"""

from __future__ import annotations

import time

from p2pmarket.bench.payments import load_since, peak_rss_mb, percentiles, time_ms

BENCH_SEED = 7
# (kind, text, filters): the fixed query mix, run around dense and sparse centres.
SEARCH_MIX: tuple[tuple[str, str, dict], ...] = (
    ("common word", "bike", {}),
    ("rare word", "saxophone", {}),
    ("two words", "piano lessons", {}),
    ("prefix", "pian", {}),
    ("chinese", "钢琴", {}),
    ("filtered", "lessons", {"category": "piano-lessons", "max_price": 30000}),
    ("browse nearest", "", {"sort": "nearest"}),
    ("cheapest", "bike", {"sort": "cheapest"}),
)
DENSE = ("peoples-square", "jingan", "lujiazui")
SPARSE = ("chongming", "lingang", "songjiang")


def bench_market(config, clock, listings: int, progress=None):
    """A deterministic market of `listings` in its own home under the bench folder (reused)."""
    from dataclasses import replace

    from sqlmodel import select

    from p2pmarket.config import DB_FILE
    from p2pmarket.models import Meta
    from p2pmarket.services.market import demo
    from p2pmarket.store.engine import Store

    home = config.home / "bench" / f"market-{listings}"
    bench_config = replace(config, home=home, db_url=f"sqlite:///{home / DB_FILE}")
    store = Store.open(bench_config)
    with store.read() as session:
        mark = session.exec(select(Meta).where(Meta.key == "bench_market")).first()
    seeded = None
    # The bench market sells a tenth of its listings (price points to read at scale).
    sales = listings // 10
    if mark is None or mark.value != f"{listings}:{BENCH_SEED}:{sales}":
        store.close()
        Store.wipe(bench_config)
        store = Store.open(bench_config)
        start = time.perf_counter()
        demo.seed_market(
            store,
            clock,
            users=max(10, listings // 20),
            listings=listings,
            seed=BENCH_SEED,
            progress=progress,
            sales=sales,
        )
        seconds = time.perf_counter() - start
        seeded = {"seconds": round(seconds, 1), "rows_per_second": int(listings / seconds)}
        with store.write() as session:
            session.merge(Meta(key="bench_market", value=f"{listings}:{BENCH_SEED}:{sales}"))
    else:
        # A cached market from an older index version was queued for re-indexing on open.
        from p2pmarket.services.market import search

        with store.write() as session:
            if search.pending(session):
                search.catch_up(session, progress)
    # What the market's daily tick does: condition factors learned from the sales.
    from p2pmarket.services.market import conditions

    with store.write() as session:
        if conditions.due(session, clock):
            conditions.learn(session, clock)
    return store, seeded


def bench_search(
    config, clock, *, listings: int, repeat: int = 20, progress=None, store=None
) -> dict:
    from p2pmarket.bench.naive import naive_ids
    from p2pmarket.models import User
    from p2pmarket.services.market import catalog, search

    # `store`: the same market copied elsewhere (bench_pg.py runs the mix on PostgreSQL).
    store, seeded = (store, None) if store else bench_market(config, clock, listings, progress)
    # "ours" is the index plan (ids of one page); "with_why" adds handles and price comparisons.
    kinds: dict[str, dict[str, list[float]]] = {}
    mismatches = 0
    try:
        with store.read() as session:
            me = session.get(User, 1)
            for kind, text, extra in SEARCH_MIX:
                for density, places in (("dense", DENSE), ("sparse", SPARSE)):
                    ours, naive, full = [], [], []
                    for i in range(repeat):
                        place = catalog.area(places[i % len(places)])
                        query = search.Query(
                            text=text,
                            lat=place.lat,
                            lon=place.lon,
                            sort=search.parse_sort(extra.get("sort", "best")),
                            category=extra.get("category"),
                            max_price=extra.get("max_price"),
                        )
                        # Like for like: both plans return the ids of one page.
                        ours.append(time_ms(lambda q=query: search.find(session, me, q)))
                        full.append(time_ms(lambda q=query: search.search(session, clock, me, q)))
                        if i < max(3, repeat // 5):
                            naive.append(time_ms(lambda q=query: naive_ids(session, me, q)))
                            nearest = search.Query(**{**vars(query), "sort": search.Sort.nearest})
                            got = [c.id for c in search.find(session, me, nearest)[0]]
                            if got != naive_ids(session, me, nearest):
                                mismatches += 1
                    kinds[f"{kind} ({density})"] = {"ours": ours, "naive": naive, "full": full}
    finally:
        store.close()
    rows = {}
    for name, runs in kinds.items():
        ours, naive = percentiles(runs["ours"]), percentiles(runs["naive"])
        rows[name] = {
            "ours": ours,
            "with_why": percentiles(runs["full"]),
            "naive": naive,
            "ratio_p50": round(naive["p50_ms"] / max(ours["p50_ms"], 1e-3), 1),
            "ratio_p95": round(naive["p95_ms"] / max(ours["p95_ms"], 1e-3), 1),
        }
    overall = {
        plan: percentiles([t for runs in kinds.values() for t in runs[plan]])
        for plan in ("ours", "full", "naive")
    }
    return {
        "listings": listings,
        "seeded": seeded,
        "queries": rows,
        "overall_ours": overall["ours"],
        "overall_with_why": overall["full"],
        "overall_naive": overall["naive"],
        "overall_ratio_p95": round(
            overall["naive"]["p95_ms"] / max(overall["ours"]["p95_ms"], 1e-3), 1
        ),
        "naive_mismatches": mismatches,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_price(config, clock, *, listings: int, repeat: int = 40, progress=None) -> dict:
    """`price suggest`'s own work (comparables, condition factors, fallback) at scale, beside
    reading every listing of the category. The bench market has completed sales (a tenth of
    its listings); the machine's load is printed with the times, and the CPU time each
    suggestion took (what a loaded machine's wall time hides)."""
    import os

    from p2pmarket.services.market import catalog, pricing

    store, seeded = bench_market(config, clock, listings, progress)
    cats = list(catalog.categories().values())
    ours, cpu, naive = [], [], []
    load = os.getloadavg()[0]
    try:
        with store.read() as session:
            raw = session.connection().connection.dbapi_connection
            sales = raw.execute("SELECT count(*) FROM orders WHERE status = 'completed'")
            completed = sales.fetchone()[0]
            for i in range(repeat):
                cat = cats[i % len(cats)]
                unit = cat.units[i % len(cat.units)]
                place = catalog.area((DENSE + SPARSE)[i % 6])
                words = cat.words_zh if i % 3 == 2 else cat.words_en
                title = words[i % len(words)]
                started = time.process_time()
                ours.append(
                    time_ms(
                        lambda c=cat, u=unit, p=place, t=title: pricing.suggest(
                            session, clock, category=c.slug, unit=u, lat=p.lat, lon=p.lon, title=t
                        )
                    )
                )
                cpu.append((time.process_time() - started) * 1000)
                if i < max(5, repeat // 4):
                    # Naive: every listing of the category and unit, no index, then Python.
                    naive.append(
                        time_ms(
                            lambda c=cat, u=unit: sorted(
                                raw.execute(
                                    "SELECT price, updated_at, lat, lon FROM listing NOT INDEXED"
                                    " WHERE category = ? AND unit = ? AND status = 'active'",
                                    (c.slug, str(u)),
                                ).fetchall()
                            )
                        )
                    )
    finally:
        store.close()
    load = load_since(load)
    o, n = percentiles(ours), percentiles(naive)
    return {
        "listings": listings,
        "completed_sales": completed,
        "seeded": seeded,
        "ours": o,
        "ours_cpu": percentiles(cpu),
        "naive": n,
        "ratio_p95": round(n["p95_ms"] / max(o["p95_ms"], 1e-3), 1),
        "load_average": load,
        "peak_rss_mb": peak_rss_mb(),
    }
