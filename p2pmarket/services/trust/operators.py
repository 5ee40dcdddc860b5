"""The market's operator: who may verify people and grant the mediator role.

Like the first account of a self-hosted app, the first user added to a new market is
its operator, unless `init --operator H` named someone first (then H becomes the
operator when added, or at once if H exists). The operator is also an ordinary user
who trades, and may be a mediator. Only the operator, acting with their passphrase,
verifies users or changes roles; every such act is a row of the `operator_events`
chain (who, what, whom, when), so `verify` notices an act edited in the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from p2pmarket import text
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Meta, OperatorEvent, Role, User
from p2pmarket.services.records import chain
from p2pmarket.store.migrations import OPERATOR_KEY

# A handle named by `init --operator` before that user exists.
PENDING_KEY = "operator_pending"


@dataclass(frozen=True)
class OperatorView:
    handle: str
    # True while the named user does not exist yet (they become operator when added).
    pending: bool

    def to_json(self) -> dict:
        return {"operator": self.handle, "pending": self.pending}


def operator_id(session: Session) -> int | None:
    row = session.get(Meta, OPERATOR_KEY)
    return int(row.value) if row is not None else None


def operator(session: Session) -> User | None:
    uid = operator_id(session)
    return session.get(User, uid) if uid is not None else None


def _record(
    session: Session, clock: Clock, actor: User | None, action: str, subject: User, detail: str
) -> None:
    chain.append(
        session,
        OperatorEvent(
            actor_id=actor.id if actor else None,
            action=action,
            subject_id=subject.id,
            detail=detail,
            at=clock.now(),
        ),
    )


def vouch_seeded(session: Session, clock: Clock, subject_ids: Sequence[int]) -> None:
    """Synthetic people made verified in bulk (the seed command): each flag an act on the
    record like any other, by the market itself (whoever holds its key seeds it), so the
    replay of who holds power agrees with them (verify) and the store stays writable."""
    chain.append_all(
        session,
        [
            OperatorEvent(
                actor_id=None,
                action="verify",
                subject_id=uid,
                detail="synthetic person (seed)",
                at=clock.now(),
            )
            for uid in subject_ids
        ],
    )


def _install(session: Session, clock: Clock, user: User, how: str) -> None:
    session.merge(Meta(key=OPERATOR_KEY, value=str(user.id)))
    pending = session.get(Meta, PENDING_KEY)
    if pending is not None:
        session.delete(pending)
    _record(session, clock, None, "operator", user, how)


def user_added(session: Session, clock: Clock, user: User) -> None:
    """A new user becomes the operator if init named them, or if they are the first."""
    if operator_id(session) is not None:
        return
    pending = session.get(Meta, PENDING_KEY)
    if pending is not None:
        if pending.value == user.handle:
            _install(session, clock, user, "named by init --operator")
        return
    # Ids only grow: nobody before this user means they are the market's first.
    earlier = session.exec(select(User.id).where(User.id < user.id).limit(1)).first()
    if earlier is None:
        _install(session, clock, user, "first user of the market")


def name_operator(session: Session, clock: Clock, handle: str) -> OperatorView:
    """`init --operator H`: only while the market has no operator (nobody holds power yet)."""
    handle = text.handle(handle)
    current = operator(session)
    if current is not None:
        if current.handle == handle:
            return OperatorView(handle, pending=False)
        raise Refused(
            "operator_exists",
            f"This market's operator is {current.handle} already; nothing was changed. "
            "An operator is named only for a market that has none.",
        )
    user = session.exec(select(User).where(User.handle == handle)).first()
    if user is not None:
        _install(session, clock, user, "named by init --operator")
        return OperatorView(handle, pending=False)
    session.merge(Meta(key=PENDING_KEY, value=handle))
    return OperatorView(handle, pending=True)


def require(session: Session, actor: User | None, doing: str) -> User:
    """The acting user if they are the operator; otherwise a refusal saying who is."""
    current = operator(session)
    if current is None:
        raise Refused(
            "no_operator",
            f"This market has no operator, so nobody can {doing}; nothing was changed. "
            "Name one with `p2pmarket init --operator HANDLE`.",
        )
    if actor is None:
        raise Refused(
            "operator_needed",
            f"Only the market's operator can {doing}; nothing was changed. "
            f"Act as the operator with their passphrase (--as {current.handle}).",
        )
    if actor.id != current.id:
        raise Refused(
            "not_operator",
            f"Only the market's operator ({current.handle}) can {doing}, not {actor.handle}; "
            f"nothing was changed. Ask {current.handle}.",
        )
    return actor


def accepted(session: Session) -> str | None:
    """The digest of the verify problems the operator last accepted (None: never)."""
    return session.exec(
        select(OperatorEvent.detail)
        .where(OperatorEvent.action == "accept")
        .order_by(col(OperatorEvent.id).desc())
        .limit(1)
    ).first()


def accept_store(session: Session, clock: Clock, actor: User | None, digest: str) -> None:
    """The operator accepts a store that fails verify with exactly these problems (their
    `digest`): writes go on, `verify` still names every one of them."""
    operator = require(session, actor, "accept a store that fails verify")
    _record(session, clock, operator, "accept", operator, digest)


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise Invalid(
            "role_unknown", f"A role is member or mediator, not {value[:20]!r}."
        ) from None


def verify_user(session: Session, clock: Clock, actor: User | None, subject: User) -> bool:
    """Mark `subject`'s real name as checked. False when it already was (nothing recorded)."""
    require(session, actor, f"verify {subject.handle}")
    if subject.verified:
        return False
    subject.verified = True
    session.add(subject)
    _record(session, clock, actor, "verify", subject, "real name checked")
    return True


def set_role(session: Session, clock: Clock, actor: User | None, subject: User, role: Role) -> bool:
    """Give `subject` the role. False when they had it already (nothing recorded)."""
    require(session, actor, f"make {subject.handle} a {role}")
    if subject.role == role:
        return False
    subject.role = role
    session.add(subject)
    _record(session, clock, actor, "role", subject, str(role))
    return True
