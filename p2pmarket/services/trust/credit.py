"""Two-dimensional credit: transaction credit (money behaviour) and social credit.

(Over 500 lines on purpose: the points of every source, the anti-gaming rules and the
recompute that records them are one piece of arithmetic, read and changed together.)

Scores live on 350-950 and are derived, never typed in: a pure function of the
source events (orders and their events, reviews, upheld reports, spam flags,
blocks, the account's age) and the rules in data/credit_rules.json.

Each source contributes points under a key ("order:12", "review:3", "age").
`recompute` compares what every key should contribute now with the running sum
already recorded for it and appends a CreditEvent for each difference, so:
recomputing again appends nothing; a lifted block appends its reversal; the
history stays append-only and explains every point. `compute` is the same
arithmetic without writing (the money gate uses it).

Anti-gaming: the k-th completed trade (and the k-th review) between the same two
people counts pair_decay**(k-1) as much (1, 1/2, 1/4, ...); blocks count only
from people who actually talked or traded with the user, and are capped; one
report per reporter per target (a unique row).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

from sqlalchemy import bindparam, case, func, or_
from sqlmodel import Session, col, select

from p2pmarket import text
from p2pmarket.clock import DAY, Clock
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Contact,
    CreditDimension,
    CreditEvent,
    Message,
    Order,
    OrderEvent,
    OrderStatus,
    Report,
    ReportStatus,
    Review,
    SpamFlag,
    Tier,
    User,
)
from p2pmarket.services.records import chain

MONTH = 30 * DAY
# scores_for reads this many users per statement (well under any bound-parameter limit).
SCORES_BATCH = 500
T = CreditDimension.transaction
S = CreditDimension.social


@cache
def rules() -> dict:
    path = resources.files("p2pmarket.data").joinpath("credit_rules.json")
    return json.loads(path.read_text("utf-8"))


def clamp(score: int) -> int:
    scale = rules()["scale"]
    return max(scale["min"], min(scale["max"], score))


def base(dimension: CreditDimension) -> int:
    return rules()["base"][dimension.value]


@dataclass(frozen=True)
class Scores:
    transaction: int
    social: int

    def __iter__(self):
        return iter((self.transaction, self.social))

    def lowest(self) -> int:
        return min(self.transaction, self.social)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CreditEventView:
    id: int
    dimension: str
    delta: int
    score_after: int
    reason: str
    source: str
    at: int

    @classmethod
    def of(cls, row: CreditEvent) -> CreditEventView:
        return cls(
            id=row.id,
            dimension=str(row.dimension),
            delta=row.delta,
            score_after=row.score_after,
            reason=row.reason,
            source=row.source,
            at=row.at,
        )

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TradeStats:
    completed: int
    partners: int
    spent: int
    volume: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Point:
    """What one source should contribute to one dimension now."""

    dimension: CreditDimension
    source: str
    value: int
    reason: str
    at: int


def _weight(rank: int) -> float:
    return rules()["pair_decay"] ** rank


def _weighted(points: int, rank: int) -> int:
    return round(points * _weight(rank))


def _nth(rank: int) -> str:
    n = rank + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pair_note(rank: int) -> str:
    if rank == 0:
        return ""
    return f" ({_nth(rank)} with them, counts {_weight(rank):g}x)"


def trade_stats(session: Session, user_id: int) -> TradeStats:
    """Completed trades, distinct partners, money spent as buyer, volume either side."""
    done = select(Order).where(
        or_(Order.buyer_id == user_id, Order.seller_id == user_id),
        Order.status == OrderStatus.completed,
    )
    completed = partners_n = spent = volume = 0
    partners: set[int] = set()
    for order in session.exec(done):
        completed += 1
        volume += order.amount
        if order.buyer_id == user_id:
            spent += order.amount
            partners.add(order.seller_id)
        else:
            partners.add(order.buyer_id)
    partners_n = len(partners)
    return TradeStats(completed=completed, partners=partners_n, spent=spent, volume=volume)


def _order_points(session: Session, user: User, settings: Settings) -> list[_Point]:
    rule = rules()["transaction"]
    orders = list(
        session.exec(
            select(Order)
            .where(or_(Order.buyer_id == user.id, Order.seller_id == user.id))
            .order_by(col(Order.id))
        )
    )
    if not orders:
        return []
    history: dict[int, list[OrderEvent]] = defaultdict(list)
    events = select(OrderEvent).join(Order, col(Order.id) == col(OrderEvent.order_id))
    events = events.where(or_(Order.buyer_id == user.id, Order.seller_id == user.id))
    for event in session.exec(events.order_by(col(OrderEvent.id))):
        history[event.order_id].append(event)

    points: list[_Point] = []
    completed: list[tuple[int, int, Order]] = []
    for order in orders:
        trail = history[order.id]
        if not trail:
            continue
        last = trail[-1]
        is_seller = order.seller_id == user.id
        paid_at = next((e.at for e in trail if e.to_status == OrderStatus.paid), None)
        disputed = any(e.to_status == OrderStatus.disputed for e in trail)
        if order.status == OrderStatus.completed and paid_at is not None:
            completed.append((last.at, order.id, order))
        if disputed and order.status in (
            OrderStatus.completed,
            OrderStatus.refunded,
            OrderStatus.resolved,
        ):
            loser = _dispute_loser(order, trail)
            if loser == user.id:
                points.append(
                    _Point(
                        T,
                        f"order:{order.id}:dispute",
                        rule["dispute_lost"],
                        f"lost the dispute on order #{order.id}",
                        last.at,
                    )
                )
        elif order.status == OrderStatus.refunded and paid_at is not None:
            revoked = last.actor_id == order.buyer_id
            # Cancelling a booked slot (or a rental) early enough is free, credit included.
            free = (
                order.slot_start is not None
                and last.at < order.slot_start - settings.free_cancel_before
            )
            if revoked and not is_seller and not free:
                points.append(
                    _Point(
                        T,
                        f"order:{order.id}:refund",
                        rule["refund_revoked"],
                        f"revoked paid order #{order.id}",
                        last.at,
                    )
                )
            elif not revoked and is_seller:
                points.append(
                    _Point(
                        T,
                        f"order:{order.id}:refund",
                        rule["refund_missed_deadline"],
                        f"order #{order.id} refunded: not delivered in time",
                        last.at,
                    )
                )

    # Repeated trades with the same partner count less each time.
    completed.sort(key=lambda item: (item[0], item[1]))
    rank_with: dict[int, int] = defaultdict(int)
    weighted_volume = 0.0
    for at, order_id, order in completed:
        partner = order.buyer_id if order.seller_id == user.id else order.seller_id
        rank = rank_with[partner]
        rank_with[partner] += 1
        weighted_volume += order.amount * _weight(rank)
        points.append(
            _Point(
                T,
                f"order:{order_id}",
                _weighted(rule["completed_order"], rank),
                f"completed order #{order_id}{_pair_note(rank)}",
                at,
            )
        )
        if order.seller_id == user.id:
            trail = history[order_id]
            paid_at = next(e.at for e in trail if e.to_status == OrderStatus.paid)
            delivered_at = next((e.at for e in trail if e.to_status == OrderStatus.delivered), None)
            if delivered_at is not None and delivered_at - paid_at <= settings.delivery_deadline:
                points.append(
                    _Point(
                        T,
                        f"order:{order_id}:on_time",
                        _weighted(rule["on_time_delivery"], rank),
                        f"delivered order #{order_id} on time{_pair_note(rank)}",
                        at,
                    )
                )
    if completed:
        vol = rule["volume"]
        doublings = math.log2(1 + weighted_volume / vol["unit"])
        value = min(vol["cap"], math.floor(vol["points_per_doubling"] * doublings))
        points.append(_Point(T, "volume", value, "volume of completed trades", completed[-1][0]))
    return points


def _dispute_loser(order: Order, trail: list[OrderEvent]) -> int | None:
    """Who lost a resolved dispute: release → buyer, refund → seller, split → nobody."""
    last = trail[-1]
    if last.to_status == OrderStatus.completed:
        return order.buyer_id
    if last.to_status == OrderStatus.refunded:
        return order.seller_id
    note = last.note.lower()
    if "refund" in note:
        return order.seller_id
    if "release" in note:
        return order.buyer_id
    return None


def _age_point(user: User, now: int) -> _Point | None:
    rule = rules()["transaction"]["account_age"]
    months = max(0, now - user.created_at) // MONTH
    value = min(rule["cap"], months * rule["points_per_month"])
    if value <= 0:
        return None
    return _Point(
        T,
        "age",
        value,
        f"account {text.counted(months, 'month')} old",
        user.created_at + months * MONTH,
    )


def _social_points(session: Session, user: User) -> list[_Point]:
    rule = rules()["social"]
    points: list[_Point] = []
    reviews = session.exec(
        select(Review, User.handle)
        .join(User, col(User.id) == col(Review.author_id))
        .where(Review.subject_id == user.id)
        .order_by(col(Review.id))
    )
    rank_by: dict[int, int] = defaultdict(int)
    for review, author in reviews:
        rank = rank_by[review.author_id]
        rank_by[review.author_id] += 1
        stars = rule["review_stars"][str(review.stars)]
        points.append(
            _Point(
                S,
                f"review:{review.id}",
                _weighted(stars, rank),
                f"{review.stars}-star review from {author} on order #{review.order_id}"
                f"{_pair_note(rank)}",
                review.at,
            )
        )
    upheld = select(Report).where(Report.target_id == user.id, Report.status == ReportStatus.upheld)
    for report in session.exec(upheld.order_by(col(Report.id))):
        points.append(
            _Point(
                S,
                f"report:{report.id}",
                rule["report_upheld"],
                f"report #{report.id} upheld by a mediator",
                report.resolved_at or report.at,
            )
        )
    flags = select(SpamFlag).where(SpamFlag.user_id == user.id).order_by(col(SpamFlag.id))
    for flag in session.exec(flags):
        points.append(
            _Point(
                S,
                f"spam:{flag.id}",
                rule["spam_flag"],
                f"sent the same message to {flag.recipients} strangers",
                flag.at,
            )
        )
    budget = rule["block"]["cap"]
    for blocker_id, at in _counted_blocks(session, user.id):
        value = max(rule["block"]["points"], budget)
        if value >= 0:
            break
        budget -= value
        points.append(
            _Point(S, f"block:{blocker_id}", value, "blocked by someone they dealt with", at)
        )
    return points


def _counted_blocks(session: Session, user_id: int) -> list[tuple[int, int]]:
    """Blocks that count: only from people who got a message or an order from the user.

    Anyone can block anyone; counting strangers' blocks would let a crowd sink
    a person they never met.
    """
    blockers = session.exec(
        select(Contact.owner_id, Contact.updated_at)
        .where(Contact.other_id == user_id, Contact.tier == Tier.blocked)
        .order_by(col(Contact.updated_at), col(Contact.owner_id))
    ).all()
    counted = []
    for owner_id, at in blockers:
        messaged = session.exec(
            select(Message.id)
            .where(Message.sender_id == user_id, Message.to_id == owner_id)
            .limit(1)
        ).first()
        traded = session.exec(
            select(Order.id)
            .where(
                or_(
                    (Order.buyer_id == user_id) & (Order.seller_id == owner_id),
                    (Order.buyer_id == owner_id) & (Order.seller_id == user_id),
                )
            )
            .limit(1)
        ).first()
        if messaged is not None or traded is not None:
            counted.append((owner_id, at))
    return counted


def _points(session: Session, clock: Clock, user: User, settings: Settings) -> list[_Point]:
    points = _order_points(session, user, settings)
    age = _age_point(user, clock.now())
    if age is not None:
        points.append(age)
    return points + _social_points(session, user)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise Invalid("unknown_user", f"No user #{user_id} here.")
    return user


def compute(
    session: Session, clock: Clock, user_id: int, settings: Settings | None = None
) -> Scores:
    """The scores as the rules say they are right now, without writing anything."""
    totals = {T: base(T), S: base(S)}
    for point in _points(session, clock, _user(session, user_id), settings or Settings()):
        totals[point.dimension] += point.value
    return Scores(transaction=clamp(totals[T]), social=clamp(totals[S]))


def recompute(
    session: Session, clock: Clock, user_id: int, settings: Settings | None = None
) -> list[CreditEventView]:
    """Bring the recorded history up to date; returns the events appended (often none)."""
    user = _user(session, user_id)
    wanted = {
        (p.dimension, p.source): p for p in _points(session, clock, user, settings or Settings())
    }
    recorded: dict[tuple[CreditDimension, str], int] = defaultdict(int)
    raw = {T: base(T), S: base(S)}
    for dimension, source, delta in session.exec(
        select(CreditEvent.dimension, CreditEvent.source, CreditEvent.delta).where(
            CreditEvent.user_id == user_id
        )
    ):
        recorded[(dimension, source)] += delta
        raw[dimension] += delta

    changes: list[tuple[int, str, CreditDimension, int, str]] = []
    for key, point in wanted.items():
        delta = point.value - recorded.get(key, 0)
        if delta:
            changes.append((point.at, point.source, point.dimension, delta, point.reason))
    for key, total in recorded.items():
        if key not in wanted and total:
            dimension, source = key
            changes.append((clock.now(), source, dimension, -total, f"no longer counts: {source}"))
    changes.sort(key=lambda c: (c[0], c[2].value, c[1]))

    appended = []
    for at, source, dimension, delta, reason in changes:
        raw[dimension] += delta
        row = CreditEvent(
            user_id=user_id,
            dimension=dimension,
            delta=delta,
            score_after=clamp(raw[dimension]),
            reason=reason[:200],
            source=source[:80],
            at=at,
        )
        appended.append(CreditEventView.of(chain.append(session, row)))
    return appended


# At most this many people's age credit is written per sweep: a market upgraded from
# recompute-on-read has everyone due at once, and the tick runs before a CLI command.
AGE_SWEEP_MAX = 200


def age_due(session: Session, clock: Clock, limit: int = AGE_SWEEP_MAX) -> list[int]:
    """The people whose account age earns more credit now than their history records: a
    month has passed (the first `limit`). The tick writes it for everyone (`age_sweep`),
    so time alone never moves a score when someone reads it, and every face shows the
    same one."""
    rule = rules()["transaction"]["account_age"]
    earned = (clock.now() - col(User.created_at)) // MONTH * rule["points_per_month"]
    recorded = (
        select(func.coalesce(func.sum(CreditEvent.delta), 0))
        .where(CreditEvent.user_id == User.id, CreditEvent.source == "age")
        .scalar_subquery()
    )
    wanted = case((earned > rule["cap"], rule["cap"]), else_=earned)
    return list(
        session.exec(
            select(User.id)
            .where(User.created_at <= clock.now() - MONTH, wanted > recorded)
            .order_by(col(User.id))
            .limit(limit)
        )
    )


def age_sweep(session: Session, clock: Clock, settings: Settings) -> int:
    """Write the account-age credit that time has earned (`age_due`); how many people."""
    due = age_due(session, clock)
    for user_id in due:
        recompute(session, clock, user_id, settings)
    return len(due)


def scores(session: Session, user_id: int) -> Scores:
    """The recorded scores (the last score_after in each dimension, else the base)."""
    result = {}
    for dimension in (T, S):
        last = session.exec(
            select(CreditEvent.score_after)
            .where(CreditEvent.user_id == user_id, CreditEvent.dimension == dimension)
            .order_by(col(CreditEvent.id).desc())
            .limit(1)
        ).first()
        result[dimension] = base(dimension) if last is None else last
    return Scores(transaction=result[T], social=result[S])


# The latest score_after per user and dimension: built once (every payment asks it).
_EVENTS = CreditEvent.__table__
_LATEST = select(_EVENTS.c.user_id, _EVENTS.c.dimension, _EVENTS.c.score_after).where(
    _EVENTS.c.id.in_(
        select(func.max(_EVENTS.c.id))
        .where(_EVENTS.c.user_id.in_(bindparam("ids", expanding=True)))
        .group_by(_EVENTS.c.user_id, _EVENTS.c.dimension)
    )
)


def scores_for(session: Session, user_ids: Iterable[int]) -> dict[int, Scores]:
    """`scores` for many users at once: the latest score_after per user and dimension.

    One statement per SCORES_BATCH users (the credit_event user_id index does the work);
    users with no event in a dimension get its base.
    """
    ids = sorted({int(i) for i in user_ids})
    latest = {uid: {T: base(T), S: base(S)} for uid in ids}
    for start in range(0, len(ids), SCORES_BATCH):
        rows = session.execute(_LATEST, {"ids": ids[start : start + SCORES_BATCH]})
        for user_id, dimension, score_after in rows:
            latest[user_id][CreditDimension(dimension)] = score_after
    return {uid: Scores(transaction=d[T], social=d[S]) for uid, d in latest.items()}


def history(
    session: Session, user_id: int, *, limit: int = 1000, offset: int = 0
) -> list[CreditEventView]:
    rows = session.exec(
        select(CreditEvent)
        .where(CreditEvent.user_id == user_id)
        .order_by(col(CreditEvent.id))
        .offset(offset)
        .limit(limit)
    )
    return [CreditEventView.of(row) for row in rows]


def event_count(session: Session, user_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(CreditEvent).where(CreditEvent.user_id == user_id)
    ).one()


@dataclass(frozen=True)
class CreditReport:
    """Someone's two scores and the latest events behind them (`credit show`)."""

    handle: str
    scores: Scores
    history: tuple[CreditEventView, ...]

    def to_json(self) -> dict:
        return {
            "handle": self.handle,
            **self.scores.to_json(),
            "history": [e.to_json() for e in self.history],
        }


def report(
    session: Session, clock: Clock, settings: Settings, user: User, *, own: bool, limit: int
) -> CreditReport:
    """`user`'s scores as recorded (the tick writes what time earns) and their last `limit`
    events.

    Only to `user` themselves (`own`) unless they publish their credit.
    """
    if not (own or user.pub_credit):
        raise Refused(
            "credit_private",
            f"{user.handle} does not publish their credit; they can with "
            f"`p2pmarket privacy set credit on --as {user.handle}`.",
        )
    latest = history(
        session, user.id, limit=limit, offset=max(0, event_count(session, user.id) - limit)
    )
    return CreditReport(user.handle, scores(session, user.id), tuple(latest))
