"""Contacts: how each user classifies the others (blocked | stranger | acquaintance | trusted)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, union
from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid
from p2pmarket.models import Contact, Tier, User

TIER_HELP = "blocked, stranger, acquaintance or trusted"


@dataclass(frozen=True)
class ContactView:
    handle: str
    tier: str
    updated_at: int

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
    """Everyone `owner` classified (strangers with a row included), by tier then handle."""
    rows = session.exec(
        select(Contact, User.handle)
        .join(User, col(User.id) == col(Contact.other_id))
        .where(Contact.owner_id == owner.id)
        .order_by(col(Contact.tier), col(User.handle))
    )
    return [ContactView(handle=h, tier=str(c.tier), updated_at=c.updated_at) for c, h in rows]
