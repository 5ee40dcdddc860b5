"""Contacts: how each user classifies the others (blocked | stranger | acquaintance | trusted)."""

from __future__ import annotations

from sqlmodel import Session, select

from p2pmarket.models import Contact, Tier


def tier(session: Session, owner_id: int, other_id: int) -> Tier:
    row = session.get(Contact, (owner_id, other_id))
    return row.tier if row else Tier.stranger


def blocked_between(session: Session, a: int, b: int) -> bool:
    """True when either side has blocked the other."""
    query = select(Contact.owner_id).where(
        ((Contact.owner_id == a) & (Contact.other_id == b))
        | ((Contact.owner_id == b) & (Contact.other_id == a)),
        Contact.tier == Tier.blocked,
    )
    return session.exec(query).first() is not None


def blocked_by(session: Session, owner_id: int) -> set[int]:
    """Everyone `owner_id` blocked, plus everyone who blocked `owner_id`."""
    mine = select(Contact.other_id).where(
        Contact.owner_id == owner_id, Contact.tier == Tier.blocked
    )
    theirs = select(Contact.owner_id).where(
        Contact.other_id == owner_id, Contact.tier == Tier.blocked
    )
    return set(session.exec(mine)) | set(session.exec(theirs))
