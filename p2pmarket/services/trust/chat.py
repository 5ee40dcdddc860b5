"""Persistent conversations between two people, with a chat / trade mode switch.

One conversation per pair. Every line is a Message; mode switches and payment
requests are lines too, so both sides see what happened. Unread counts come from
each side's last-read message id. `changes_since` is one probe of the
(to_id, id) index, cheap enough for a TUI to poll every half second; together
with `Watcher` (SQLite's PRAGMA data_version, bumped by other connections' commits;
LISTEN/NOTIFY on PostgreSQL) a second terminal sees a new message within a second.

Spam: the same text (normalised) sent to `spam_recipients` strangers within
`spam_window` flags the sender once (social credit drops) and from then on that
text can't be sent to strangers again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from sqlalchemy import Engine, case, func
from sqlmodel import Session, col, select

from p2pmarket import money, text
from p2pmarket.clock import Clock, countdown
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    ChatMode,
    Contact,
    Conversation,
    Listing,
    Message,
    MessageKind,
    Offer,
    Order,
    SpamFlag,
    Tier,
    User,
)
from p2pmarket.services.money import orders
from p2pmarket.services.records import chain
from p2pmarket.services.trust import contacts, credit, gate, privacy
from p2pmarket.store import ports

SPAM_MIN_CHARS = 8
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class OfferState:
    """Where the offer a line announced stands now (the line itself never changes)."""

    id: int
    status: str
    unit_price: int
    quantity: int
    expires_at: int
    order_id: int | None
    # Declined under the seller's floor, or expired: nobody decided.
    automatic: bool = False

    def state(self, now: int) -> str:
        """Where it stands, in words: "open, 1d 23h left", "accepted: order #3"."""
        if self.status == "open":
            left = self.expires_at - now
            return f"open, {countdown(left)} left" if left > 0 else "expired"
        if self.status == "accepted":
            return f"accepted: order #{self.order_id}"
        if self.status == "declined" and self.automatic:
            return "declined automatically"
        return self.status


@dataclass(frozen=True)
class MessageView:
    id: int
    sender: str
    kind: str
    body: str
    at: int
    order_id: int | None
    offer: OfferState | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ConversationView:
    id: int | None
    other: privacy.PublicProfile
    mode: str
    unread: int
    listing_id: int | None
    order_id: int | None
    money: gate.MoneyStatus
    messages: tuple[MessageView, ...]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "other": self.other.to_json(),
            "mode": self.mode,
            "unread": self.unread,
            "listing_id": self.listing_id,
            "order_id": self.order_id,
            "money": self.money.to_json(),
            "messages": [m.to_json() for m in self.messages],
        }


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    other: str
    mode: str
    unread: int
    last: str
    last_at: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Changes:
    """For polling: the newest message id addressed to the user, and how many are newer."""

    latest_id: int
    new: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PaymentRequest:
    order_id: int
    amount: int
    message: MessageView
    warning: str | None

    def to_json(self) -> dict:
        return {
            "order_id": self.order_id,
            "amount": self.amount,
            "message": self.message.to_json(),
            "warning": self.warning,
        }


def fingerprint(body: str) -> str:
    """The same text, whatever the case, spacing or punctuation."""
    return hashlib.sha256(_NOT_WORD.sub("", body.casefold()).encode()).hexdigest()


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def find(session: Session, a_id: int, b_id: int) -> Conversation | None:
    a, b = _pair(a_id, b_id)
    return session.exec(
        select(Conversation).where(Conversation.a_id == a, Conversation.b_id == b)
    ).first()


def _open(session: Session, clock: Clock, me: User, other: User) -> Conversation:
    conv = find(session, me.id, other.id)
    if conv is None:
        a, b = _pair(me.id, other.id)
        now = clock.now()
        conv = Conversation(a_id=a, b_id=b, created_at=now, updated_at=now)
        session.add(conv)
        session.flush()
    return conv


def check_reach(session: Session, sender: User, recipient: User) -> None:
    """May `sender` write to `recipient` at all (neither blocked the other)? Refused if not."""
    if sender.id == recipient.id:
        raise Invalid("chat_self", "You can't message yourself.")
    if contacts.tier(session, recipient.id, sender.id) == Tier.blocked:
        raise Refused("blocked", f"{recipient.handle} does not take messages from you.")
    if contacts.tier(session, sender.id, recipient.id) == Tier.blocked:
        raise Refused(
            "you_blocked",
            f"You blocked {recipient.handle}. To write again, set them to stranger "
            f"(`p2pmarket contact set-tier {recipient.handle} stranger`).",
        )


def _read_id(conv: Conversation, user_id: int) -> int:
    return conv.a_read_id if conv.a_id == user_id else conv.b_read_id


def _mark_read(conv: Conversation, user_id: int, message_id: int) -> None:
    if conv.a_id == user_id:
        conv.a_read_id = max(conv.a_read_id, message_id)
    else:
        conv.b_read_id = max(conv.b_read_id, message_id)


def _post(
    session: Session,
    clock: Clock,
    conv: Conversation,
    sender: User,
    recipient: User,
    body: str,
    *,
    kind: MessageKind = MessageKind.text,
    order_id: int | None = None,
    fp: str = "",
) -> MessageView:
    now = clock.now()
    row = Message(
        conversation_id=conv.id,
        sender_id=sender.id,
        to_id=recipient.id,
        kind=kind,
        body=body,
        fingerprint=fp,
        order_id=order_id,
        at=now,
    )
    chain.append(session, row)
    conv.last_message_id = row.id
    conv.updated_at = now
    _mark_read(conv, sender.id, row.id)
    session.add(conv)
    return MessageView(row.id, sender.handle, str(kind), body, now, order_id)


def _is_stranger_to(session: Session, recipient_id: int, sender_id: int) -> bool:
    """The recipient doesn't know the sender: no warmer tier, never wrote to them."""
    row = session.get(Contact, (recipient_id, sender_id))
    if row is not None and row.tier in (Tier.acquaintance, Tier.trusted):
        return False
    wrote = session.exec(
        select(Message.id)
        .where(
            Message.sender_id == recipient_id,
            Message.to_id == sender_id,
            Message.kind == MessageKind.text,
        )
        .limit(1)
    ).first()
    return wrote is None


def _spam_check(session: Session, sender: User, recipient: User, fp: str) -> None:
    """Before sending: a text already flagged as spam never reaches strangers again."""
    flagged = session.exec(
        select(SpamFlag.id).where(SpamFlag.user_id == sender.id, SpamFlag.fingerprint == fp)
    ).first()
    if flagged is not None and _is_stranger_to(session, recipient.id, sender.id):
        raise Refused(
            "spam",
            "This text was flagged as spam (sent to many strangers at once) and can't go to "
            f"strangers any more; write to {recipient.handle} in your own words.",
        )


def _spam_flag(
    session: Session,
    clock: Clock,
    sender: User,
    message_id: int,
    fp: str,
    settings: Settings,
) -> bool:
    """After sending: flag when the same text reached too many strangers too fast."""
    since = clock.now() - settings.spam_window
    recipients = session.exec(
        select(Message.to_id)
        .where(
            Message.sender_id == sender.id,
            Message.fingerprint == fp,
            Message.at >= since,
        )
        .distinct()
    ).all()
    strangers = [r for r in recipients if _is_stranger_to(session, r, sender.id)]
    if len(strangers) < settings.spam_recipients:
        return False
    exists = session.exec(
        select(SpamFlag.id).where(SpamFlag.user_id == sender.id, SpamFlag.fingerprint == fp)
    ).first()
    if exists is not None:
        return False
    session.add(
        SpamFlag(
            user_id=sender.id,
            fingerprint=fp,
            recipients=len(strangers),
            message_id=message_id,
            at=clock.now(),
        )
    )
    session.flush()
    credit.recompute(session, clock, sender.id, settings)
    return True


def send(
    session: Session,
    clock: Clock,
    sender: User,
    recipient: User,
    body: str,
    *,
    settings: Settings,
    listing_id: int | None = None,
    order_id: int | None = None,
) -> MessageView:
    check_reach(session, sender, recipient)
    body = text.clean(body, field="message", max_len=text.MESSAGE_MAX, multiline=True)
    fp = fingerprint(body)
    long_enough = len(_NOT_WORD.sub("", body)) >= SPAM_MIN_CHARS
    if long_enough:
        _spam_check(session, sender, recipient, fp)
    conv = _open(session, clock, sender, recipient)
    if listing_id is not None:
        listing = session.get(Listing, listing_id)
        if listing is None or listing.seller_id not in (sender.id, recipient.id):
            raise Invalid(
                "unknown_listing", f"No listing #{listing_id} of {recipient.handle} or yours."
            )
        conv.listing_id = listing_id
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is None or {order.buyer_id, order.seller_id} != {sender.id, recipient.id}:
            raise Invalid("unknown_order", f"No order #{order_id} between you two.")
        conv.order_id = order_id
    view = _post(session, clock, conv, sender, recipient, body, fp=fp if long_enough else "")
    if long_enough:
        _spam_flag(session, clock, sender, view.id, fp, settings)
    return view


def set_mode(
    session: Session, clock: Clock, user: User, other: User, mode: ChatMode
) -> MessageView:
    """Either side switches; the switch is a line both sides see."""
    check_reach(session, user, other)
    conv = _open(session, clock, user, other)
    if conv.mode == mode:
        raise Refused(
            "mode_unchanged", f"The conversation with {other.handle} is already in {mode} mode."
        )
    conv.mode = mode
    line = (
        f"{user.handle} switched to trade mode: payment requests and payments are on."
        if mode == ChatMode.trade
        else f"{user.handle} switched to chat mode: money actions are off."
    )
    return _post(session, clock, conv, user, other, line, kind=MessageKind.system)


def parse_mode(value: str) -> ChatMode:
    try:
        return ChatMode(value.strip().lower())
    except ValueError:
        raise Invalid("mode_format", f"Mode {value[:20]!r} must be chat or trade.") from None


def post(
    session: Session,
    clock: Clock,
    sender: User,
    recipient: User,
    body: str,
    *,
    kind: MessageKind,
    order_id: int | None = None,
) -> MessageView:
    """A line the market writes for `sender` (an offer, a step of one) in their conversation."""
    conv = _open(session, clock, sender, recipient)
    if order_id is not None:
        conv.order_id = order_id
    return _post(session, clock, conv, sender, recipient, body, kind=kind, order_id=order_id)


def _offer_states(session: Session, rows: list[Message]) -> dict[int, OfferState]:
    """The offers announced by these lines, as they stand now, by the line's id."""
    ids = [m.id for m in rows if m.kind == MessageKind.offer]
    if not ids:
        return {}
    offers = session.exec(select(Offer).where(col(Offer.message_id).in_(ids))).all()
    return {
        o.message_id: OfferState(
            o.id,
            str(o.status),
            o.unit_price,
            o.quantity,
            o.expires_at,
            o.order_id,
            automatic=o.decided_at is not None and o.decided_by is None,
        )
        for o in offers
    }


def _views(session: Session, rows: list[Message]) -> list[MessageView]:
    ids = {m.sender_id for m in rows}
    handles = dict(session.exec(select(User.id, User.handle).where(col(User.id).in_(ids))).all())
    offers = _offer_states(session, rows)
    return [
        MessageView(
            m.id, handles[m.sender_id], str(m.kind), m.body, m.at, m.order_id, offers.get(m.id)
        )
        for m in rows
    ]


def _unread(session: Session, conv: Conversation, user_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Message)
        .where(
            Message.to_id == user_id,
            Message.conversation_id == conv.id,
            Message.id > _read_id(conv, user_id),
        )
    ).one()


def show(
    session: Session,
    clock: Clock,
    viewer: User,
    other: User,
    *,
    settings: Settings,
    limit: int = 50,
    mark_read: bool = True,
) -> ConversationView:
    """The last `limit` lines, the other side's public profile, and what money may do."""
    if viewer.id == other.id:
        raise Invalid("chat_self", "There is no conversation with yourself.")
    conv = find(session, viewer.id, other.id)
    header = privacy.public_profile(session, viewer.id, other.id, clock)
    status = gate.money_status(session, clock, viewer, other, settings=settings, actor=viewer)
    if conv is None:
        return ConversationView(None, header, str(ChatMode.chat), 0, None, None, status, ())
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conv.id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    ).all()
    unread = _unread(session, conv, viewer.id)
    if mark_read and conv.last_message_id:
        _mark_read(conv, viewer.id, conv.last_message_id)
        session.add(conv)
    return ConversationView(
        id=conv.id,
        other=header,
        mode=str(conv.mode),
        unread=unread,
        listing_id=conv.listing_id,
        order_id=conv.order_id,
        money=status,
        messages=tuple(_views(session, list(reversed(rows)))),
    )


def list_conversations(
    session: Session, viewer: User, *, limit: int = 100
) -> list[ConversationSummary]:
    """Most recent first, with unread counts and the last line."""
    convs = session.exec(
        select(Conversation)
        .where((Conversation.a_id == viewer.id) | (Conversation.b_id == viewer.id))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    ).all()
    out = []
    for conv in convs:
        other_id = conv.b_id if conv.a_id == viewer.id else conv.a_id
        other = session.get(User, other_id)
        last = session.get(Message, conv.last_message_id) if conv.last_message_id else None
        out.append(
            ConversationSummary(
                id=conv.id,
                other=other.handle,
                mode=str(conv.mode),
                unread=_unread(session, conv, viewer.id),
                last=(last.body.splitlines() or [""])[0][:80] if last else "",
                last_at=last.at if last else conv.created_at,
            )
        )
    return out


def unread_total(session: Session, user_id: int) -> int:
    read_id = case(
        (Conversation.a_id == user_id, Conversation.a_read_id), else_=Conversation.b_read_id
    )
    return session.exec(
        select(func.count())
        .select_from(Message)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(Message.to_id == user_id, Message.id > read_id)
    ).one()


def changes_since(session: Session, user_id: int, last_seen_id: int) -> Changes:
    """Anything new for `user_id` since message `last_seen_id`? Index probes only."""
    latest = session.exec(select(func.max(Message.id)).where(Message.to_id == user_id)).one()
    if latest is None or latest <= last_seen_id:
        return Changes(latest_id=latest or 0, new=0)
    new = session.exec(
        select(func.count())
        .select_from(Message)
        .where(Message.to_id == user_id, Message.id > last_seen_id)
    ).one()
    return Changes(latest_id=latest, new=new)


class Watcher:
    """Tells a poller cheaply whether anyone else committed since it last asked.

    A TUI polls `changed()` often and calls `changes_since` only when it is True. The
    store answers (store/ports.py ChangeFeed): SQLite reads PRAGMA data_version on a
    connection of its own, PostgreSQL listens for the NOTIFY every committed write sends.
    """

    def __init__(self, engine: Engine) -> None:
        self._changes = ports.of_engine(engine).changes.watch()

    def changed(self) -> bool:
        return self._changes.changed()

    def close(self) -> None:
        self._changes.close()


def request_payment(
    session: Session,
    clock: Clock,
    seller: User,
    buyer: User,
    amount: int,
    *,
    settings: Settings,
    listing_id: int | None = None,
    note: str = "",
) -> PaymentRequest:
    """In trade mode, the seller asks the buyer to pay: an accepted order the buyer pays."""
    check_reach(session, seller, buyer)
    verdict = gate.check_money(
        session,
        clock,
        buyer,
        seller,
        amount,
        settings=settings,
        actor=seller,
        require_trade_mode=True,
    )
    order = orders.request_payment(
        session, clock, seller, buyer, amount, listing_id=listing_id, note=note
    )
    conv = _open(session, clock, seller, buyer)
    conv.order_id = order.id
    if listing_id is not None:
        conv.listing_id = listing_id
    line = (
        f"{seller.handle} requests {money.fmt(amount)} (order #{order.id}). "
        f"Pay with `p2pmarket order pay {order.id} --as {buyer.handle}`."
    )
    view = _post(
        session, clock, conv, seller, buyer, line, kind=MessageKind.request, order_id=order.id
    )
    return PaymentRequest(order_id=order.id, amount=amount, message=view, warning=verdict.warning)
