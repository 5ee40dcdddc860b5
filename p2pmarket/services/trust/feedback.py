"""What people say about each other: reviews (after a completed paid order) and reports.

Both feed social credit. A review needs a completed order that was paid, one per
side of the order; a report is one per reporter per target and counts only once a
mediator upholds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from p2pmarket import text
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Order,
    OrderEvent,
    OrderStatus,
    Report,
    ReportStatus,
    Review,
    Role,
    User,
)
from p2pmarket.services.records import chain
from p2pmarket.services.trust import credit

REVIEW_MAX = 1000
REASON_MAX = 500


@dataclass(frozen=True)
class ReviewView:
    id: int
    order_id: int
    author: str
    subject: str
    stars: int
    text: str
    at: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReportView:
    id: int
    reporter: str
    target: str
    reason: str
    status: str
    at: int

    def to_json(self) -> dict:
        return asdict(self)


def review(
    session: Session, clock: Clock, author: User, order_id: int, stars: int, body: str
) -> ReviewView:
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise Invalid("stars_range", "Stars must be a whole number 1..5.")
    body = text.clean(body, field="review", max_len=REVIEW_MAX, multiline=True)
    order = session.get(Order, order_id)
    refusal = _unreviewable(session, author.id, order, order_id)
    if refusal is not None:
        raise refusal
    subject_id = order.seller_id if author.id == order.buyer_id else order.buyer_id
    row = Review(
        order_id=order_id,
        author_id=author.id,
        subject_id=subject_id,
        stars=stars,
        text=body,
        at=clock.now(),
    )
    row = chain.append(session, row)
    credit.recompute(session, clock, subject_id)
    subject = session.get(User, subject_id)
    return ReviewView(row.id, order_id, author.handle, subject.handle, stars, body, row.at)


def reviewable(session: Session, author_id: int, order_id: int) -> bool:
    """May `author_id` review order `order_id` now (a side of it, completed and paid, once)?"""
    return _unreviewable(session, author_id, session.get(Order, order_id), order_id) is None


def _unreviewable(
    session: Session, author_id: int, order: Order | None, order_id: int
) -> Invalid | Refused | None:
    """Why `author_id` may not review the order (None: they may)."""
    if order is None or author_id not in (order.buyer_id, order.seller_id):
        return Invalid("unknown_order", f"You have no order #{order_id}.")
    paid = session.exec(
        select(OrderEvent.id).where(
            OrderEvent.order_id == order_id, OrderEvent.to_status == OrderStatus.paid
        )
    ).first()
    if order.status != OrderStatus.completed or paid is None:
        return Refused(
            "review_not_completed",
            f"Order #{order_id} is {order.status}; reviews open once a paid order is completed.",
        )
    exists = session.exec(
        select(Review.id).where(Review.order_id == order_id, Review.author_id == author_id)
    ).first()
    if exists is not None:
        return Refused(
            "review_exists", f"You already reviewed order #{order_id}; one review per side."
        )
    return None


def reviews_of(session: Session, user_id: int, *, limit: int = 50) -> list[ReviewView]:
    subject = session.get(User, user_id)
    rows = session.exec(
        select(Review, User.handle)
        .join(User, col(User.id) == col(Review.author_id))
        .where(Review.subject_id == user_id)
        .order_by(col(Review.id).desc())
        .limit(limit)
    )
    return [ReviewView(r.id, r.order_id, h, subject.handle, r.stars, r.text, r.at) for r, h in rows]


@dataclass(frozen=True)
class Rating:
    """What reviews say of someone: the average stars (one decimal) and how many."""

    stars: float
    count: int

    def said(self) -> str:
        """'★4.7 (12)'."""
        return f"★{self.stars:.1f} ({self.count})"


def ratings(session: Session, user_ids: Iterable[int]) -> dict[int, Rating]:
    """The rating of each of these people who has reviews (one query for a page)."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(Review.subject_id, func.avg(Review.stars), func.count())
        .where(col(Review.subject_id).in_(ids))
        .group_by(col(Review.subject_id))
    )
    return {uid: Rating(round(float(avg), 1), count) for uid, avg, count in rows}


def _report_view(session: Session, row: Report) -> ReportView:
    reporter = session.get(User, row.reporter_id)
    target = session.get(User, row.target_id)
    return ReportView(row.id, reporter.handle, target.handle, row.reason, str(row.status), row.at)


def report(session: Session, clock: Clock, reporter: User, target: User, reason: str) -> ReportView:
    if reporter.id == target.id:
        raise Invalid("report_self", "You can't report yourself.")
    reason = text.clean(reason, field="reason", max_len=REASON_MAX, multiline=True)
    exists = session.exec(
        select(Report.id).where(Report.reporter_id == reporter.id, Report.target_id == target.id)
    ).first()
    if exists is not None:
        raise Refused(
            "report_exists",
            f"You already reported {target.handle} (report #{exists}); one report per person "
            "counts. A mediator will look at it.",
        )
    row = Report(reporter_id=reporter.id, target_id=target.id, reason=reason, at=clock.now())
    session.add(row)
    session.flush()
    return _report_view(session, row)


def resolve_report(
    session: Session, clock: Clock, mediator: User, report_id: int, upheld: bool
) -> ReportView:
    if mediator.role != Role.mediator:
        raise Refused("not_mediator", "Only a mediator can resolve reports.")
    row = session.get(Report, report_id)
    if row is None:
        raise Invalid("unknown_report", f"No report #{report_id}.")
    if mediator.id in (row.reporter_id, row.target_id):
        raise Refused("mediator_involved", "A mediator can't resolve a report they are part of.")
    if row.status != ReportStatus.open:
        raise Refused("report_resolved", f"Report #{report_id} is already {row.status}.")
    row.status = ReportStatus.upheld if upheld else ReportStatus.dismissed
    row.resolved_by, row.resolved_at = mediator.id, clock.now()
    session.add(row)
    session.flush()
    credit.recompute(session, clock, row.target_id)
    return _report_view(session, row)


def open_reports(session: Session, *, limit: int = 100) -> list[ReportView]:
    rows = session.exec(
        select(Report)
        .where(Report.status == ReportStatus.open)
        .order_by(col(Report.id))
        .limit(limit)
    )
    return [_report_view(session, r) for r in rows]
