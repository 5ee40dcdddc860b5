"""A dispute's case: the opener's reason and the lines of the pair's chat they attach, each
party's one statement within the statement window, what the mediator reads before deciding,
and who gets what by a decision (release, refund or split), for its form and for the step.

The reason and the statements are rows of `dispute_note`, chained per order and signed by
their author like every record, so `verify` holds them; each reaches both parties' inboxes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, col, select

from p2pmarket import money, text
from p2pmarket.clock import Clock, countdown, iso
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Conversation,
    DisputeNote,
    InboxKind,
    Message,
    Order,
    OrderStatus,
    User,
)
from p2pmarket.services.money.orders.rules import RESOLUTIONS, held, order_row, record
from p2pmarket.services.money.orders.views import OrderView, get_order, handles
from p2pmarket.services.records import chain
from p2pmarket.services.trust import credit, inbox

REASON_MAX = 200
STATEMENT_MAX = 2000
# Lines of the pair's chat one dispute may attach, and how many recent ones the opener
# picks from.
ATTACH_MAX = 10
RECENT_LINES = 20
REASON, STATEMENT = "reason", "statement"


@dataclass(frozen=True)
class Opening:
    """What opening a dispute takes: one line of reason, and chat lines (message ids)."""

    reason: str
    attach: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChatLine:
    id: int
    sender: str
    body: str
    at: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NoteView:
    author: str
    text: str
    at: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Shares:
    """What a decision pays out of the order's escrow: to the seller, back to the buyer."""

    resolution: str
    to_seller: int
    to_buyer: int

    def sentence(self) -> str:
        return f"buyer gets {money.fmt(self.to_buyer)}, seller gets {money.fmt(self.to_seller)}"


@dataclass(frozen=True)
class CaseView:
    """A dispute as its parties and its mediator read it."""

    order: OrderView
    opened_by: str | None
    opened_at: int
    # None for a dispute opened before disputes had reasons.
    reason: str | None
    attached: list[ChatLine]
    statements: list[NoteView]
    statement_until: int
    # What the escrow holds (all of it, or a returned rental's deposit): a decision's whole.
    held: int
    credit: dict[str, credit.Scores] = field(default_factory=dict)

    def window(self, now: int) -> str:
        if now < self.statement_until:
            left = countdown(self.statement_until - now)
            return f"statements until {iso(self.statement_until)} (in {left})"
        return f"the statement window closed at {iso(self.statement_until)}"

    def to_json(self) -> dict:
        return {
            "order": self.order.to_json(),
            "opened_by": self.opened_by,
            "opened_at": self.opened_at,
            "reason": self.reason,
            "attached": [m.to_json() for m in self.attached],
            "statements": [s.to_json() for s in self.statements],
            "statement_until": self.statement_until,
            "held": self.held,
            "credit": {who: s.to_json() for who, s in self.credit.items()},
        }


# -- opening ---------------------------------------------------------------------------------


def open_case(
    session: Session,
    settings: Settings,
    actor: User,
    order: Order,
    now: int,
    opening: Opening | None,
) -> None:
    """The dispute step: a reason is required, attached lines must be the pair's own; the
    timers pause, the step is recorded, and the reason (with its lines) is chained."""
    if opening is None:
        raise Invalid(
            "dispute_reason",
            f"A dispute needs a reason: say in one line what went wrong "
            f"(order dispute {order.id} --reason TEXT).",
        )
    reason = text.clean(opening.reason, field="reason", max_len=REASON_MAX)
    attach = _attachable(session, actor, order, opening.attach)
    order.disputed_from = order.status
    order.paused_at = now
    event = record(session, order, actor.id, now, OrderStatus.disputed, note=f"from {order.status}")
    chain.append(
        session,
        DisputeNote(
            order_id=order.id,
            author_id=actor.id,
            kind=REASON,
            text=reason,
            attached=json.dumps(attach),
            at=now,
        ),
    )
    other = order.seller_id if actor.id == order.buyer_id else order.buyer_id
    until = iso(now + settings.statement_window)
    lines = f" with {text.counted(len(attach), 'chat line')} attached" if attach else ""
    name = f"order #{order.id} ({text.strip_controls(order.title)[:60]})"
    _tell(
        session,
        other,
        f"@{actor.handle} opened a dispute on {name}: {reason}. Add your statement by {until}.",
        order.id,
        now,
        # The inbox gathers the step as this key: one item, this one.
        f"event:{event.id}",
    )
    _tell(
        session,
        actor.id,
        f"You opened a dispute on {name}{lines}; both sides may add a statement by {until}.",
        order.id,
        now,
        f"dispute:{order.id}:opened",
    )


def _attachable(session: Session, actor: User, order: Order, wanted: tuple[int, ...]) -> list[int]:
    """The message ids, each once, if every one is a line of the pair's conversation."""
    ids = list(dict.fromkeys(wanted))
    if len(ids) > ATTACH_MAX:
        raise Invalid(
            "attach_too_many", f"Attach at most {ATTACH_MAX} chat lines; you picked {len(ids)}."
        )
    if not ids:
        return []
    conv = _conversation(session, order)
    found = set()
    if conv is not None:
        found = set(
            session.exec(
                select(Message.id).where(
                    Message.conversation_id == conv.id, col(Message.id).in_(ids)
                )
            ).all()
        )
    missing = [i for i in ids if i not in found]
    if missing:
        other_id = order.seller_id if actor.id == order.buyer_id else order.buyer_id
        other = session.get(User, other_id)
        raise Refused(
            "attach_not_in_chat",
            f"There is no message #{missing[0]} in your chat with @{other.handle}; attach "
            "only lines of that conversation.",
        )
    return ids


def _conversation(session: Session, order: Order) -> Conversation | None:
    a, b = sorted((order.buyer_id, order.seller_id))
    return session.exec(
        select(Conversation).where(Conversation.a_id == a, Conversation.b_id == b)
    ).first()


def recent_lines(session: Session, viewer: User, order_id: int) -> list[ChatLine]:
    """The newest lines of the order's pair's chat, oldest first, for the opener to pick."""
    order = order_row(session, order_id)
    if viewer.id not in (order.buyer_id, order.seller_id):
        raise Refused("not_your_order", f"Order #{order_id} is between other people.")
    conv = _conversation(session, order)
    if conv is None:
        return []
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conv.id)
        .order_by(col(Message.id).desc())
        .limit(RECENT_LINES)
    ).all()
    return _lines(session, list(reversed(rows)))


def _lines(session: Session, rows: list[Message]) -> list[ChatLine]:
    names = handles(session, {m.sender_id for m in rows})
    return [ChatLine(m.id, names[m.sender_id], m.body, m.at) for m in rows]


def _tell(session: Session, user_id: int, what: str, order_id: int, at: int, key: str) -> None:
    inbox.add(session, user_id, InboxKind.order, what, ("order", order_id), at, key)


# -- statements ------------------------------------------------------------------------------


def _notes(session: Session, order_id: int) -> list[DisputeNote]:
    return list(
        session.exec(
            select(DisputeNote)
            .where(DisputeNote.order_id == order_id)
            .order_by(col(DisputeNote.id))
        ).all()
    )


def statement_refusal(
    settings: Settings, actor: User, order: Order, notes: list[DisputeNote], now: int
) -> Refused | None:
    """Why `actor` can't add a statement to `order`'s dispute now (None: they can)."""
    if actor.id not in (order.buyer_id, order.seller_id):
        return Refused(
            "not_your_order",
            f"Only the buyer or the seller of order #{order.id} may add a statement.",
        )
    if order.status != OrderStatus.disputed or order.paused_at is None:
        return Refused(
            "not_disputed",
            f"Order #{order.id} is {order.status}, not in dispute; a statement answers an "
            "open dispute.",
        )
    until = order.paused_at + settings.statement_window
    if now >= until:
        return Refused(
            "statement_window_closed",
            f"The statement window of order #{order.id} closed at {iso(until)} "
            f"({countdown(settings.statement_window)} after the dispute opened); the mediator "
            "decides on what is there.",
        )
    if any(n.kind == STATEMENT and n.author_id == actor.id for n in notes):
        return Refused(
            "statement_given",
            f"You already added your statement to the dispute on order #{order.id} (one per side).",
        )
    return None


def can_state(
    session: Session, clock: Clock, settings: Settings, actor: User, order_id: int
) -> bool:
    """May `actor` add a statement to `order_id` now (the Orders screen offers the key)?"""
    order = order_row(session, order_id)
    if order.status != OrderStatus.disputed:
        return False
    notes = _notes(session, order_id)
    return statement_refusal(settings, actor, order, notes, clock.now()) is None


def add_statement(
    session: Session, clock: Clock, settings: Settings, actor: User, order_id: int, body: str
) -> CaseView:
    """One party's statement on an open dispute: once per side, within the window."""
    order = order_row(session, order_id)
    now = clock.now()
    refusal = statement_refusal(settings, actor, order, _notes(session, order_id), now)
    if refusal is not None:
        raise refusal
    said = text.clean(body, field="statement", max_len=STATEMENT_MAX, multiline=True)
    note = chain.append(
        session,
        DisputeNote(order_id=order.id, author_id=actor.id, kind=STATEMENT, text=said, at=now),
    )
    name = f"order #{order.id} ({text.strip_controls(order.title)[:60]})"
    for user_id in (order.buyer_id, order.seller_id):
        who = "You" if user_id == actor.id else f"@{actor.handle}"
        _tell(
            session,
            user_id,
            f"{who} added a statement to the dispute on {name}: {said}",
            order.id,
            now,
            f"dispute:{order.id}:statement:{note.id}",
        )
    return case(session, settings, actor, order_id)


# -- the case and the decision ---------------------------------------------------------------


def case(session: Session, settings: Settings, viewer: User, order_id: int) -> CaseView:
    """The dispute on an order, for its parties and (once disputed) a mediator."""
    view = get_order(session, viewer, order_id)
    order = order_row(session, order_id)
    if order.disputed_from is None:
        raise Refused("not_disputed", f"Order #{order_id} has no dispute.")
    notes = _notes(session, order_id)
    names = handles(session, {n.author_id for n in notes})
    reason = next((n for n in notes if n.kind == REASON), None)
    attached: list[ChatLine] = []
    if reason is not None:
        ids = json.loads(reason.attached)
        rows = session.exec(
            select(Message).where(col(Message.id).in_(ids)).order_by(col(Message.id))
        ).all()
        attached = _lines(session, list(rows))
    opened = _opened_at(view, order)
    scores = credit.scores_for(session, (order.buyer_id, order.seller_id))
    return CaseView(
        order=view,
        opened_by=names[reason.author_id] if reason is not None else _opener(view),
        opened_at=opened,
        reason=reason.text if reason is not None else None,
        attached=attached,
        statements=[
            NoteView(names[n.author_id], n.text, n.at) for n in notes if n.kind == STATEMENT
        ],
        statement_until=opened + settings.statement_window,
        held=held(order),
        credit={view.buyer: scores[order.buyer_id], view.seller: scores[order.seller_id]},
    )


def _opened_at(view: OrderView, order: Order) -> int:
    disputed = [e.at for e in view.timeline if e.to_status == OrderStatus.disputed]
    return order.paused_at or (disputed[-1] if disputed else order.updated_at)


def _opener(view: OrderView) -> str | None:
    disputed = [e.actor for e in view.timeline if e.to_status == OrderStatus.disputed]
    return disputed[-1] if disputed else None


def shares(amount: int, resolution: str, split: int | None) -> Shares:
    """Who gets what of `amount` (the escrow) by a mediator's decision, or why it can't be."""
    if resolution not in RESOLUTIONS:
        raise Invalid("resolution", "A resolution is release, refund or split AMOUNT.")
    if resolution == "split" and (split is None or not 0 < split < amount):
        raise Invalid(
            "split_range",
            f"A split gives the seller more than 0 and less than {money.fmt(amount)}.",
        )
    to_seller = {"release": amount, "refund": 0}.get(resolution, split)
    return Shares(resolution, to_seller, amount - to_seller)


def decision(
    session: Session, viewer: User, order_id: int, resolution: str, split: int | None
) -> Shares:
    """What deciding `order_id` this way would pay out, for the mediator's form."""
    get_order(session, viewer, order_id)  # a party's or a mediator's, or refused
    return shares(held(order_row(session, order_id)), resolution, split)
