"""`bench price-quality`: how near suggested bands come to what things sold for.

The market is seeded for this bench alone (its own home under the bench folder): each
category's item types have their own price level and goods a condition
(services/market/demo.py), and some listings sold. A held-out set of those sales is
taken out of the market (their orders marked refunded, in this bench's store only),
then each held-out item is priced as if listed anew, at its own place, without its own
listing: our band (comparables first, services/market/pricing.py `suggest`) beside the
category-only band (`category_band`), in the same run on the same store.

Printed for both: the median absolute percentage error of p50, how often the price it
sold for lies inside p25..p75 (about 50 % for an honest band) and inside p10..p90
(about 80 %), and how long one band takes.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

from p2pmarket.bench.payments import percentiles, time_ms

QUALITY_SEED = 17


def _score(truth: list[int], bands: list) -> dict:
    """MdAPE of p50 and the share of true prices inside p25..p75 and p10..p90 (in %)."""
    errors = [abs(b.p50 - t) / t for t, b in zip(truth, bands, strict=True)]
    inner = [b.p25 <= t <= b.p75 for t, b in zip(truth, bands, strict=True)]
    wide = [
        (b.p10 if b.p10 is not None else b.p25) <= t <= (b.p90 if b.p90 is not None else b.p75)
        for t, b in zip(truth, bands, strict=True)
    ]
    return {
        "mdape_pct": round(100 * statistics.median(errors), 1),
        "inside_p25_p75_pct": round(100 * sum(inner) / len(inner), 1),
        "inside_p10_p90_pct": round(100 * sum(wide) / len(wide), 1),
    }


def price_quality(
    config,
    clock,
    *,
    listings: int = 20_000,
    sales: int = 4_000,
    held_out: int = 300,
    progress=None,
) -> dict:
    from sqlmodel import col, select

    from p2pmarket.config import DB_FILE
    from p2pmarket.models import Listing, Order, OrderStatus
    from p2pmarket.services.market import conditions, demo, pricing
    from p2pmarket.store.engine import Store

    home = config.home / "bench" / f"quality-{listings}-{sales}"
    bench_config = replace(config, home=home, db_url=f"sqlite:///{home / DB_FILE}")
    Store.wipe(bench_config)
    store = Store.open(bench_config)
    try:
        demo.seed_market(
            store,
            clock,
            users=max(10, listings // 20),
            listings=listings,
            seed=QUALITY_SEED,
            sales=sales,
            progress=progress,
        )
        rng = random.Random(QUALITY_SEED)
        with store.write() as session:
            sold = session.exec(
                select(Order.id, Order.listing_id, Order.unit_price)
                .where(Order.status == OrderStatus.completed)
                .order_by(Order.id)
            ).all()
            chosen = rng.sample(sold, min(held_out, len(sold)))
            for order in session.exec(
                select(Order).where(col(Order.id).in_([o for o, _, _ in chosen]))
            ):
                order.status = OrderStatus.refunded
                session.add(order)
        with store.write() as session:
            # The factors are learned without the held-out sales, as the daily tick would.
            conditions.learn(session, clock)
        truth, ours, base, kinds, ours_ms, base_ms = [], [], [], [], [], []
        with store.read() as session:
            for _, listing_id, paid in chosen:
                item = session.get(Listing, listing_id)
                where = {
                    "category": item.category,
                    "unit": item.unit,
                    "lat": item.lat,
                    "lon": item.lon,
                    "exclude_listing": item.id,
                }
                found: list = []
                ours_ms.append(
                    time_ms(
                        lambda w=where, i=item, f=found: f.append(
                            pricing.suggest(
                                session, clock, title=i.title, condition=i.condition, **w
                            )
                        )
                    )
                )
                base_ms.append(
                    time_ms(
                        lambda w=where, f=found: f.append(
                            pricing.category_band(session, clock, **w)
                        )
                    )
                )
                truth.append(paid)
                ours.append(found[0])
                base.append(found[1])
                kinds.append(found[0].against is not None)
    finally:
        store.close()
    mine, theirs = _score(truth, ours), _score(truth, base)
    return {
        "listings": listings,
        "sales": sales,
        "held_out": len(truth),
        "with_comparables_pct": round(100 * sum(kinds) / max(len(kinds), 1), 1),
        "ours": {**mine, **percentiles(ours_ms)},
        "category_only": {**theirs, **percentiles(base_ms)},
        "error_ratio": round(mine["mdape_pct"] / max(theirs["mdape_pct"], 1e-9), 2),
    }
