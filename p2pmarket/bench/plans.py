"""`bench plan`: a 3-leg wish planned on the bench market, ours beside brute force.

The bench market's skill and time listings of the wish's categories around the dense
centres get weekly hours once (remembered in the market's meta). Ours is the whole
proposal (each leg's cheapest free options from the search index and their free slots,
then the fitting); brute force tries every option, order and start of the same
candidates. Both must find the same cheapest plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from p2pmarket.bench.payments import peak_rss_mb, percentiles, time_ms
from p2pmarket.bench.search import DENSE, bench_market

LEGS = "babysitting, cooking-class, photography"
CATEGORIES = ("babysitting", "cooking-class", "photography")
HOURS = "sat-sun 10:00-20:00"
# Listings within this many degrees (about 6 km) of a dense centre take bookings.
NEAR_DEG = 0.055
MARK = "bench_plan_hours"


def _with_hours(store, clock) -> int:
    """Weekly hours on the wish's listings around the dense centres (once per market)."""
    from sqlmodel import col, select

    from p2pmarket.models import Listing, ListingHours, Meta, Unit, User
    from p2pmarket.services.market import availability, catalog

    with store.read() as session:
        if session.get(Meta, MARK) is not None:
            return 0
    done = 0
    with store.write() as session:
        for slug in DENSE:
            place = catalog.area(slug)
            rows = session.exec(
                select(Listing).where(
                    col(Listing.category).in_(CATEGORIES),
                    col(Listing.unit).in_((Unit.hour, Unit.session)),
                    col(Listing.lat).between(place.lat - NEAR_DEG, place.lat + NEAR_DEG),
                    col(Listing.lon).between(place.lon - NEAR_DEG, place.lon + NEAR_DEG),
                )
            ).all()
            for listing in rows:
                if session.get(ListingHours, listing.id) is not None:
                    continue
                availability.set_hours(
                    session,
                    clock,
                    session.get(User, listing.seller_id),
                    listing.id,
                    HOURS,
                    zone=store.config.settings.zone,
                    slot_minutes=None if listing.unit == Unit.hour else 30 * (2 + listing.id % 2),
                    buffer_after=15 * (listing.id % 2),
                    window_days=60,
                )
                done += 1
        session.add(Meta(key=MARK, value=str(done)))
    return done


def _saturday(clock, zone: str) -> str:
    today = datetime.fromtimestamp(clock.now(), ZoneInfo(zone)).date()
    return (today + timedelta(days=(5 - today.weekday()) % 7 + 7)).isoformat()


def bench_plan(config, clock, *, listings: int, repeat: int = 20, brute: int = 3, progress=None):
    """p50/p95 of proposing plans for a 3-leg wish, ours against brute force."""
    from p2pmarket.models import User
    from p2pmarket.services.money.plans import fitting, make_wish, planner

    store, seeded = bench_market(config, clock, listings, progress)
    zone = store.config.settings.zone
    try:
        with_hours = _with_hours(store, clock)
        day = _saturday(clock, zone)
        ours, fits, brutes, mismatches, found = [], [], [], 0, 0
        with store.read() as session:
            me = session.get(User, 1)
            for i in range(repeat):
                wish = make_wish(LEGS, day, "13:00", "19:00", zone=zone, area=DENSE[i % len(DENSE)])
                planned = []
                ours.append(
                    time_ms(
                        lambda w=wish, out=planned: out.append(
                            planner.plan(session, clock, zone, me, w)
                        )
                    )
                )
                if not planned[0].fitted:
                    continue
                found += 1
                keep = planner.per_leg(len(wish.legs))
                options = [
                    planner.leg_options(session, clock, zone, me, wish, leg, keep).options
                    for leg in range(len(wish.legs))
                ]
                origin = planned[0].origin[:2]

                def fit(o=options, w=wish, at=origin):
                    return fitting.plans(o, at, w.start, w.end)

                fits.append(time_ms(fit))
                if len(brutes) < brute:
                    best = []

                    def every(o=options, w=wish, at=origin, out=best):
                        out.append(
                            min(
                                (f.rank()[:3] for f in fitting.brute_force(o, at, w.start, w.end)),
                                default=None,
                            )
                        )

                    brutes.append(time_ms(every))
                    if best[0] != fit()[0].rank()[:3]:
                        mismatches += 1
    finally:
        store.close()
    result = {
        "listings": listings,
        "seeded": seeded,
        "listings_given_hours": with_hours,
        "wish": f"{LEGS} on {day} 13:00–19:00",
        "plans_found": f"{found} of {repeat}",
        "ours": percentiles(ours),
        "ours_fitting_only": percentiles(fits) if fits else None,
        "brute_force_fitting": percentiles(brutes) if brutes else None,
        "brute_force_mismatches": mismatches,
        "peak_rss_mb": peak_rss_mb(),
    }
    if fits and brutes:
        result["ratio_p95_brute_vs_ours_fitting"] = round(
            result["brute_force_fitting"]["p95_ms"]
            / max(result["ours_fitting_only"]["p95_ms"], 1e-3),
            1,
        )
        result["ratio_p95_brute_vs_whole_proposal"] = round(
            result["brute_force_fitting"]["p95_ms"] / max(result["ours"]["p95_ms"], 1e-3), 1
        )
    return result
