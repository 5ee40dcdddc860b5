"""Plans in the store: proposals remembered per person, booking a plan (every leg booked
and paid into escrow in one transaction, or none), and a cancelled leg replaced.

Each booked leg is an order of its own (services/money/orders): its seller, its timers,
delivery, confirmation, revoke and dispute are the order's. The plan only remembers
which orders its legs became.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import delete
from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, MarketError, Refused
from p2pmarket.models import Listing, Plan, PlanLeg, PlanStatus, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.money.orders import PaymentPreview, slots
from p2pmarket.services.money.plans import planner
from p2pmarket.services.money.plans.fitting import Fitted, travel_seconds
from p2pmarket.services.money.plans.views import (
    LegRow,
    LegView,
    PlanPreview,
    PlanView,
    Proposals,
    Shown,
    why,
)
from p2pmarket.services.money.plans.wish import Wish

ENDED = ("refunded", "cancelled")
PROPOSE_AGAIN = "propose again (p2pmarket plan propose …) for what is free now"
SHOW_AGAIN = "p2pmarket plan show {id} lists what still fits"


def propose(session: Session, clock: Clock, settings: Settings, me: User, wish: Wish) -> Proposals:
    """Plan the wish and remember the plans as my proposals 1..5 (replacing my last ones)."""
    planned = planner.plan(session, clock, settings.zone, me, wish)
    _forget_proposals(session, me.id)
    shown = []
    for number, fitted in enumerate(planned.fitted, 1):
        plan = Plan(
            buyer_id=me.id,
            status=PlanStatus.proposed,
            number=number,
            wish=wish.dumps(),
            total=fitted.total,
            travel_minutes=fitted.travelling // 60,
            created_at=clock.now(),
        )
        session.add(plan)
        session.flush()
        for row in _rows(wish, fitted):
            session.add(PlanLeg(plan_id=plan.id, **asdict(row)))
        session.flush()
        shown.append(plan_view(session, clock, settings, me, plan))
    return Proposals(tuple(shown), tuple(planned.unfilled))


def _rows(wish: Wish, fitted: Fitted, first: int = 1) -> list[LegRow]:
    return [
        LegRow(
            position=first + i,
            wish=wish.legs[option.leg].label,
            listing_id=option.listing_id,
            slot_start=start,
            slot_end=start + option.length,
            travel_minutes=travel // 60,
            amount=option.amount,
        )
        for i, (option, start, travel) in enumerate(
            zip(fitted.options, fitted.starts, fitted.travel, strict=True)
        )
    ]


def _forget_proposals(session: Session, buyer_id: int) -> None:
    waiting = select(Plan.id).where(Plan.buyer_id == buyer_id, Plan.status == PlanStatus.proposed)
    ids = list(session.exec(waiting))
    if ids:
        session.exec(delete(PlanLeg).where(col(PlanLeg.plan_id).in_(ids)))
        session.exec(delete(Plan).where(col(Plan.id).in_(ids)))


def _legs(session: Session, plan_id: int) -> list[PlanLeg]:
    found = select(PlanLeg).where(PlanLeg.plan_id == plan_id).order_by(PlanLeg.position)
    return list(session.exec(found))


def _row(leg: PlanLeg) -> LegRow:
    return LegRow(**{column.name: getattr(leg, column.name) for column in fields(LegRow)})


def mine(session: Session, me: User, ref: int, *, number_first: bool = True) -> Plan:
    """My proposal number `ref` of my last proposal, or my plan #`ref`: which is looked for
    first is `number_first` (booking takes N from the last proposal; showing, a plan id)."""
    proposal = session.exec(
        select(Plan).where(
            Plan.buyer_id == me.id, Plan.status == PlanStatus.proposed, Plan.number == ref
        )
    ).first()
    plan = session.get(Plan, ref)
    if plan is not None and plan.buyer_id != me.id:
        plan = None
    found = (proposal or plan) if number_first else (plan or proposal)
    if found is None:
        raise Invalid(
            "unknown_plan",
            f"You have no proposal {ref} and no plan #{ref}: propose one first "
            "(p2pmarket plan propose …).",
        )
    return found


def plan_view(
    session: Session,
    clock: Clock,
    settings: Settings,
    me: User,
    plan: Plan,
    *,
    with_replacements: bool = False,
) -> PlanView:
    wish = Wish.loads(plan.wish)
    origin = planner.origin_of(me, wish)
    rows = [_row(leg) for leg in _legs(session, plan.id)]
    shown = Shown(session, clock, settings.zone, origin, rows)
    legs = tuple(shown.leg(row) for row in rows)
    found = {}
    if with_replacements and plan.status == PlanStatus.booked:
        now = clock.now()
        for leg in legs:
            if leg.status in ENDED and leg.start > now:
                found[leg.position] = _replacement_views(
                    session, clock, settings, me, wish, origin, legs, leg, shown
                )
    live = tuple(leg for leg in legs if leg.status not in ENDED)
    credits = [leg.credit for leg in live if leg.credit is not None]
    return PlanView(
        id=plan.id,
        number=plan.number,
        status=str(plan.status),
        day=wish.day,
        window=wish.window,
        total=sum(leg.amount for leg in live),
        travel_minutes=sum(leg.travel_minutes for leg in live),
        lowest_credit=min(credits) if credits else None,
        why=why(live, wish.party),
        legs=legs,
        replacements=found,
    )


def _replacement_views(
    session: Session,
    clock: Clock,
    settings: Settings,
    me: User,
    wish: Wish,
    origin: tuple[float, float, str],
    legs: tuple[LegView, ...],
    gone: LegView,
    shown: Shown,
) -> tuple[LegView, ...]:
    """A cancelled leg's replacements as the faces show them: listings free after the
    live leg before it, in time to reach the live leg after it, from a seller not already
    in the plan."""
    live = [leg for leg in legs if leg.status not in ENDED]
    before = [leg for leg in live if leg.end <= gone.start]
    after = [leg for leg in live if leg.start >= gone.end]
    start = (origin[0], origin[1], wish.start)
    if before:
        place = shown.listings[before[-1].listing_id]
        start = (place.lat, place.lon, before[-1].end)
    end = None
    if after:
        place = shown.listings[after[0].listing_id]
        end = (place.lat, place.lon, after[0].start)
    index = [leg.label for leg in wish.legs].index(gone.wish)
    avoid = {shown.listings[leg.listing_id].seller_id for leg in legs}
    fits = planner.replacements(
        session, clock, settings.zone, me, wish, index, after=start, before=end, avoid=avoid
    )
    rows = [_rows(wish, fitted, gone.position)[0] for fitted in fits]
    if not rows:
        return ()
    more = Shown(session, clock, settings.zone, origin, rows)
    return tuple(more.leg(row) for row in rows)


def list_plans(session: Session, clock: Clock, settings: Settings, me: User) -> list[PlanView]:
    """My waiting proposals (1 to 5), then my booked plans, newest first."""
    found = list(session.exec(select(Plan).where(Plan.buyer_id == me.id)))
    found.sort(key=lambda p: (p.number is None, p.number or 0, -p.id))
    return [plan_view(session, clock, settings, me, plan) for plan in found]


def _book_leg(
    session: Session,
    clock: Clock,
    settings: Settings,
    me: User,
    plan: Plan,
    leg: PlanLeg,
    *,
    replacing: bool = False,
) -> int:
    """Book one leg's slot as an accepted order of the plan (or in place of a cancelled
    leg: `replacing`); the order's id."""
    hours = availability.hours_of(session, leg.listing_id, settings.zone)
    what = f"leg {leg.position} ({leg.wish}, {availability.local(leg.slot_start, settings.zone)})"
    try:
        if hours is None:
            raise Refused("no_hours", f"listing #{leg.listing_id} takes no bookings any more.")
        count = (leg.slot_end - leg.slot_start) // hours.slot
        booked = orders.book_slot(
            session, clock, settings, me, leg.listing_id, leg.slot_start, count, plan_id=plan.id
        )
    except MarketError as exc:
        said = (
            "was taken meanwhile."
            if exc.code == "slot_taken"
            else f"can't be booked: {exc.message}"
        )
        refused = f"Plan #{plan.id} was not booked: {what} {said}"
        then = PROPOSE_AGAIN
        if replacing:
            refused = f"Leg {leg.position} of plan #{plan.id} was not replaced: it {said}"
            then = SHOW_AGAIN.format(id=plan.id)
        raise Refused("plan_leg_gone", f"{refused} Nothing was booked or paid; {then}.") from exc
    return booked.id


def _pay_legs(
    session: Session, clock: Clock, settings: Settings, me: User, plan: Plan, legs: list[PlanLeg]
) -> None:
    """Pay every leg's order into its escrow; one refused payment refuses them all."""
    results = orders.pay_many(session, clock, settings, me, [leg.order_id for leg in legs])
    for leg, result in zip(legs, results, strict=True):
        if isinstance(result, MarketError):
            raise Refused(
                "plan_unpaid",
                f"Plan #{plan.id} was not booked: leg {leg.position} ({leg.wish}) can't be "
                f"paid: {result.message} Nothing was booked or paid.",
            )


def book(session: Session, clock: Clock, settings: Settings, me: User, ref: int) -> PlanView:
    """Book and pay every leg of my proposal (or plan) `ref` in this transaction: all legs,
    or none (the caller's transaction is rolled back by the refusal)."""
    plan = mine(session, me, ref)
    if plan.status != PlanStatus.proposed:
        raise Refused(
            "plan_booked",
            f"Plan #{plan.id} is booked already: p2pmarket plan show {plan.id} --as {me.handle}.",
        )
    legs = _legs(session, plan.id)
    for leg in legs:
        leg.order_id = _book_leg(session, clock, settings, me, plan, leg)
        session.add(leg)
    _pay_legs(session, clock, settings, me, plan, legs)
    plan.status, plan.number = PlanStatus.booked, None
    session.add(plan)
    session.flush()
    _forget_proposals(session, me.id)
    return plan_view(session, clock, settings, me, plan)


def preview(session: Session, clock: Clock, settings: Settings, me: User, ref: int) -> PlanPreview:
    """What booking would do, its checks run and rolled back: nothing is booked or paid."""
    plan = mine(session, me, ref)
    trial = session.begin_nested()
    try:
        book(session, clock, settings, me, plan.id)
    finally:
        trial.rollback()
    shown = plan_view(session, clock, settings, me, plan)
    before = ledger.balance(session, me.id)
    first = min(leg.start for leg in shown.legs)
    return PlanPreview(
        shown, before, before - shown.total, slots.cancel_terms(first, settings, clock.now())
    )


def _travel_after(session: Session, leg: PlanLeg, later: list[PlanLeg], shown: PlanView) -> None:
    """The way from a replaced leg to the next leg still standing is a new way."""
    standing = [each for each in later if shown.legs[each.position - 1].status not in ENDED]
    if not standing:
        return
    here, there = session.get(Listing, leg.listing_id), session.get(Listing, standing[0].listing_id)
    way = travel_seconds(here.lat, here.lon, there.lat, there.lon)
    standing[0].travel_minutes = way // 60
    session.add(standing[0])


def replace(
    session: Session,
    clock: Clock,
    settings: Settings,
    me: User,
    plan_id: int,
    position: int,
    pick: int = 1,
) -> PlanView:
    """Fill a cancelled leg of my booked plan with replacement `pick` (1: the cheapest
    that still fits), booked and paid now; the other legs stand as they are."""
    plan = session.get(Plan, plan_id)
    if plan is None or plan.buyer_id != me.id or plan.status != PlanStatus.booked:
        raise Invalid("unknown_plan", f"You have no booked plan #{plan_id}.")
    legs = {leg.position: leg for leg in _legs(session, plan.id)}
    if position not in legs:
        raise Invalid("unknown_leg", f"Plan #{plan_id} has legs 1 to {len(legs)}.")
    shown = plan_view(session, clock, settings, me, plan, with_replacements=True)
    gone = shown.legs[position - 1]
    if gone.status not in ENDED:
        raise Refused(
            "leg_stands",
            f"Leg {position} of plan #{plan_id} stands (order #{gone.order_id} is "
            f"{gone.status}); only a cancelled leg is replaced.",
        )
    options = shown.replacements.get(position, ())
    if not options:
        raise Refused(
            "no_replacement",
            f"Nothing else fits leg {position} ({gone.wish}) now; its money came back to you "
            f"(order #{gone.order_id}).",
        )
    if not 1 <= pick <= len(options):
        raise Invalid("replacement_pick", f"Pick a replacement from 1 to {len(options)}.")
    chosen = options[pick - 1]
    leg = legs[position]
    leg.listing_id, leg.slot_start, leg.slot_end = chosen.listing_id, chosen.start, chosen.end
    leg.amount, leg.travel_minutes = chosen.amount, chosen.travel_minutes
    leg.order_id = _book_leg(session, clock, settings, me, plan, leg, replacing=True)
    session.add(leg)
    _pay_legs(session, clock, settings, me, plan, [leg])
    _travel_after(session, leg, [legs[p] for p in sorted(legs) if p > position], shown)
    plan.total = sum(each.amount for each in legs.values())
    session.add(plan)
    session.flush()
    return plan_view(session, clock, settings, me, plan, with_replacements=True)


def preview_replace(
    session: Session,
    clock: Clock,
    settings: Settings,
    me: User,
    plan_id: int,
    position: int,
    pick: int = 1,
) -> PaymentPreview:
    """What replacing a cancelled leg would pay, its checks run and rolled back."""
    trial = session.begin_nested()
    try:
        done = replace(session, clock, settings, me, plan_id, position, pick)
    finally:
        trial.rollback()
    leg = done.legs[position - 1]
    before = ledger.balance(session, me.id)
    return PaymentPreview(
        order_id=plan_id,
        title=f"leg {position}: {leg.wish}, {leg.title} ({leg.at})",
        amount=leg.amount,
        to=leg.seller,
        balance_before=before,
        balance_after=before - leg.amount,
        revoke_window=max(0, leg.start - clock.now()),
        warning=slots.cancel_terms(leg.start, settings, clock.now()),
    )
