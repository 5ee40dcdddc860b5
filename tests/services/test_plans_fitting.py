"""The planner's fitting against brute force on small markets: every plan it proposes
holds (sequence, travel, window, one seller's bookings apart), and its first plan is as
good as the best of every plan there is (every option, order and start)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from p2pmarket.clock import MINUTE
from p2pmarket.geo import moved
from p2pmarket.services.money.plans import fitting
from p2pmarket.services.money.plans.fitting import Option

HOME = (31.229, 121.448)
FIRST = 1_800_000_000
LAST = FIRST + 6 * 60 * MINUTE
# Places 0 to 4 km east of home: walks, rides, and the same place twice.
PLACES = [moved(*HOME, 1.5708, km * 1000) for km in (0.0, 0.4, 1.2, 2.0, 4.0)]


@st.composite
def markets(draw):
    legs = draw(st.integers(1, 3))
    options, listing = [], 0
    for leg in range(legs):
        row = []
        for _ in range(draw(st.integers(1, 3))):
            listing += 1
            length = draw(st.sampled_from([30, 60, 90])) * MINUTE
            starts = draw(
                st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True).map(
                    lambda marks: tuple(sorted(FIRST + m * 30 * MINUTE for m in marks))
                )
            )
            lat, lon = draw(st.sampled_from(PLACES))
            row.append(
                Option(
                    leg=leg,
                    listing_id=listing,
                    seller_id=draw(st.integers(1, 3)),
                    amount=draw(st.integers(1, 20)) * 1000,
                    lat=lat,
                    lon=lon,
                    starts=starts,
                    length=length,
                    buffer_after=draw(st.sampled_from([0, 15 * MINUTE])),
                )
            )
        options.append(row)
    return options


def _best(found) -> tuple | None:
    return min(((f.repeats_seller, f.total, f.travelling) for f in found), default=None)


@settings(max_examples=150, deadline=None)
@given(
    options=markets(),
    fixed=st.booleans(),
    budget=st.one_of(st.none(), st.integers(5, 40).map(lambda y: y * 1000)),
)
def test_the_first_plan_is_the_best_there_is(options, fixed, budget):
    found = fitting.plans(options, HOME, FIRST, LAST, fixed_order=fixed, budget=budget)
    every = list(fitting.brute_force(options, HOME, FIRST, LAST, fixed_order=fixed, budget=budget))
    assert _best(found[:1]) == _best(every)
    assert len(found) <= fitting.MAX_PLANS
    assert [f.rank()[:3] for f in found] == sorted(f.rank()[:3] for f in found)
    for plan in found:
        # Each proposal holds, checked by the brute force's own rules.
        assert fitting._check(plan.options, plan.starts, HOME, FIRST, LAST) == plan
        assert budget is None or plan.total <= budget
        assert {o.leg for o in plan.options} == set(range(len(options)))
        if fixed:
            assert [o.leg for o in plan.options] == sorted(o.leg for o in plan.options)
