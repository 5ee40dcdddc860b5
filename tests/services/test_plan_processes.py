"""Eight real processes booking overlapping plans at once, on a real file: every plan is
booked and paid whole or not at all, no slot is held twice, and the ledger verifies."""

from collections import Counter

import pytest
from sqlmodel import select

from p2pmarket.config import Settings
from p2pmarket.models import Kind, Order, OrderStatus, Plan, PlanLeg, SlotClaim, Unit, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, plans
from tests.conftest import make_listing, make_user
from tests.services.test_booking_processes import run_at_once

BUYERS = 8
ZONE = Settings().zone


@pytest.mark.slow
def test_eight_processes_booking_overlapping_plans_all_or_nothing(store, clock, config):
    # Two sitters free 13:00-14:00 and two cooks free 14:30-16:00, one slot each: four
    # plans (each sitter with each cook), any two of them share a seller's slot or not.
    for handle, category, hours, kind in (
        ("sit1", "babysitting", "sat 13:00-14:00", Kind.time),
        ("sit2", "babysitting", "sat 13:00-14:00", Kind.time),
        ("cook1", "cooking-class", "sat 14:30-16:00", Kind.skill),
        ("cook2", "cooking-class", "sat 14:30-16:00", Kind.skill),
    ):
        seller = make_user(store, clock, handle, verified=True)
        unit = Unit.hour if kind is Kind.time else Unit.session
        listing = make_listing(
            store,
            clock,
            seller,
            kind=kind,
            title=f"{category} by {handle}",
            category=category,
            unit=unit,
            price=5000,
        )
        with store.write() as s:
            availability.set_hours(
                s,
                clock,
                s.get(User, seller.id),
                listing.id,
                hours,
                zone=ZONE,
                slot_minutes=None if unit is Unit.hour else 90,
            )
    wanted = {}
    for n in range(BUYERS):
        buyer = make_user(store, clock, f"buyer{n}", verified=True)
        with store.write() as s:
            ledger.topup(s, clock, buyer.id, 100_000, f"fund-{n}")
            wish = plans.make_wish(
                "babysitting, cooking-class", "2026-11-07", "12:00", "17:00", zone=ZONE
            )
            found = plans.propose(s, clock, Settings(), s.get(User, buyer.id), wish)
            assert len(found.plans) == 4
            wanted[buyer.id] = found.plans[n % 4]
    results = run_at_once(
        config,
        clock,
        [["plan", "book", str(n % 4 + 1), "--as", f"buyer{n}", "--confirm"] for n in range(BUYERS)],
    )
    codes = Counter(code for code, _, _ in results)
    assert set(codes) <= {0, 1} and 1 <= codes[0] <= 2, results
    for code, out, err in results:
        assert "Traceback" not in err and "locked" not in (out + err).lower()
        if code == 1:
            assert "Nothing was booked or paid; propose again" in err, err
    with store.read() as s:
        claims = s.exec(select(SlotClaim)).all()
        by_order = Counter(c.order_id for c in claims)
        for buyer_id, proposal in wanted.items():
            made = s.exec(select(Order).where(Order.buyer_id == buyer_id)).all()
            plan = s.get(Plan, proposal.id)
            if plan.status == "booked":
                legs = s.exec(select(PlanLeg).where(PlanLeg.plan_id == plan.id)).all()
                assert sorted(o.id for o in made) == sorted(leg.order_id for leg in legs)
                assert all(o.status == OrderStatus.paid for o in made)
                assert all(by_order[o.id] for o in made)
                assert ledger.balance(s, buyer_id) == 100_000 - plan.total
            else:
                assert made == [] and ledger.balance(s, buyer_id) == 100_000
        # The store's key keeps blocks apart; a block held twice would have failed it.
        assert len({(c.seller_id, c.block) for c in claims}) == len(claims)
    [(code, out, err)] = run_at_once(config, clock, [["verify", "--json"]])
    assert code == 0, out + err
