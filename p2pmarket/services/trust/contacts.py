"""Contacts: how each user classifies the others (blocked | stranger | acquaintance | trusted)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, case, func, or_, union
from sqlmodel import Session, col, select

from p2pmarket.clock import Clock, iso
from p2pmarket.errors import Invalid
from p2pmarket.models import Contact, Order, Tier, User

TIER_HELP = "blocked, stranger, acquaintance or trusted"
_TIER_ORDER = [str(t) for t in Tier]


@dataclass(frozen=True)
class LastTrade:
    """The newest order between two people, either side buying."""

    order_id: int
    title: str
    status: str
    at: int

    def said(self) -> str:
        """'completed 2026-11-20 · #12 City bike' (where it stands first: titles get cut)."""
        state = self.status.replace("_", " ")  # 'handed over', not its name for scripts
        return f"{state} {iso(self.at)[:10]} · #{self.order_id} {self.title}"


@dataclass(frozen=True)
class ContactView:
    handle: str
    tier: str
    # When the tier was set; None: never classified (a stranger one has traded with).
    updated_at: int | None
    last_trade: LastTrade | None = None

    def to_json(self) -> dict:
        return asdict(self)


def parse_tier(value: str) -> Tier:
    try:
        return Tier(value.strip().lower())
    except ValueError:
        raise Invalid("tier_format", f"Tier {value[:20]!r} must be {TIER_HELP}.") from None


def tier(session: Session, owner_id: int, other_id: int) -> Tier:
    row = session.get(Contact, (owner_id, other_id))
    return row.tier if row else Tier.stranger


# Asked on every payment: built once. Either side may have blocked the other.
_CONTACT = Contact.__table__
_BLOCKED_BETWEEN = (
    select(_CONTACT.c.owner_id)
    .where(
        _CONTACT.c.owner_id.in_((bindparam("a"), bindparam("b"))),
        _CONTACT.c.other_id.in_((bindparam("a"), bindparam("b"))),
        _CONTACT.c.owner_id != _CONTACT.c.other_id,
        _CONTACT.c.tier == Tier.blocked,
    )
    .limit(1)
)


def blocked_between(session: Session, a: int, b: int) -> bool:
    """True when either side has blocked the other."""
    found = session.execute(_BLOCKED_BETWEEN, {"a": a, "b": b}).first()
    return found is not None


# Asked on every search keystroke: built once, both directions in one statement.
_BLOCKED_BY = union(
    select(_CONTACT.c.other_id).where(
        _CONTACT.c.owner_id == bindparam("me"), _CONTACT.c.tier == Tier.blocked
    ),
    select(_CONTACT.c.owner_id).where(
        _CONTACT.c.other_id == bindparam("me"), _CONTACT.c.tier == Tier.blocked
    ),
)


def blocked_by(session: Session, owner_id: int) -> set[int]:
    """Everyone `owner_id` blocked, plus everyone who blocked `owner_id`."""
    return set(session.execute(_BLOCKED_BY, {"me": owner_id}).scalars())


def set_tier(session: Session, clock: Clock, owner: User, other: User, new: Tier) -> ContactView:
    """Classify `other`. Blocking (or unblocking) moves their social credit."""
    from p2pmarket.services.trust import credit

    if owner.id == other.id:
        raise Invalid("contact_self", "You can't classify yourself.")
    row = session.get(Contact, (owner.id, other.id))
    before = row.tier if row else Tier.stranger
    now = clock.now()
    if row is None:
        row = Contact(owner_id=owner.id, other_id=other.id, tier=new, updated_at=now)
    else:
        row.tier, row.updated_at = new, now
    session.add(row)
    session.flush()
    if Tier.blocked in (before, new) and before != new:
        credit.recompute(session, clock, other.id)
    return ContactView(handle=other.handle, tier=str(new), updated_at=now)


def list_contacts(session: Session, owner: User) -> list[ContactView]:
    """Everyone `owner` classified or traded with (those never classified are strangers),
    each with the last trade between them, by tier then handle."""
    classified = {
        handle: row
        for row, handle in session.exec(
            select(Contact, User.handle)
            .join(User, col(User.id) == col(Contact.other_id))
            .where(Contact.owner_id == owner.id)
        )
    }
    traded = last_trades(session, owner.id)
    views = []
    for handle in classified.keys() | traded.keys():
        row = classified.get(handle)
        views.append(
            ContactView(
                handle=handle,
                tier=str(row.tier if row else Tier.stranger),
                updated_at=row.updated_at if row else None,
                last_trade=traded.get(handle),
            )
        )
    return sorted(views, key=lambda v: (_TIER_ORDER.index(v.tier), v.handle))


def last_trades(session: Session, owner_id: int) -> dict[str, LastTrade]:
    """The newest order with each person `owner_id` has ordered from or sold to, by handle."""
    other = case((col(Order.buyer_id) == owner_id, col(Order.seller_id)), else_=col(Order.buyer_id))
    newest = (
        select(func.max(Order.id))
        .where(or_(col(Order.buyer_id) == owner_id, col(Order.seller_id) == owner_id))
        .group_by(other)
    )
    rows = session.exec(
        select(Order, User.handle)
        .join(User, col(User.id) == other)
        .where(col(Order.id).in_(newest))
    )
    return {h: LastTrade(o.id, o.title, str(o.status), o.updated_at) for o, h in rows}
