"""Users: the anonymous front (handle) and the real-name back, passphrases, roles."""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from p2pmarket import geo, text
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Role, User
from p2pmarket.services.trust import operators

PASSPHRASE_MIN = 8


@cache
def hasher(profile: str = "default") -> PasswordHasher:
    if profile == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


@dataclass(frozen=True)
class UserView:
    id: int
    handle: str
    real_name: str
    verified: bool
    role: str
    lat: float
    lon: float
    area: str | None
    bio: str
    created_at: int

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            handle=user.handle,
            real_name=user.real_name,
            verified=user.verified,
            role=str(user.role),
            lat=user.lat,
            lon=user.lon,
            area=user.area,
            bio=user.bio,
            created_at=user.created_at,
        )

    def to_json(self) -> dict:
        return asdict(self)


def check_location(lat: float, lon: float) -> tuple[float, float]:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise Invalid("location_format", "Latitude and longitude must be numbers.")
    if not -90 <= lat <= 90:
        raise Invalid("latitude_range", f"Latitude {lat} is outside -90..90.")
    if not -180 <= lon <= 180:
        raise Invalid("longitude_range", f"Longitude {lon} is outside -180..180.")
    return lat, lon


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < PASSPHRASE_MIN:
        raise Invalid(
            "passphrase_short", f"A passphrase needs at least {PASSPHRASE_MIN} characters."
        )
    if len(passphrase) > 1024:
        raise Invalid("passphrase_long", "A passphrase may have at most 1024 characters.")
    return passphrase


def create_user(
    session: Session,
    clock: Clock,
    *,
    handle: str,
    real_name: str,
    passphrase: str,
    lat: float,
    lon: float,
    area: str | None = None,
    role: Role = Role.member,
    verified: bool = False,
    bio: str = "",
    hash_profile: str = "default",
    place_rng: random.Random | None = None,
) -> UserView:
    """Self-registration; the public point is drawn here, once (`place_rng`: see
    geo.public_point). `role` and `verified` are for setting up stores in code (tests,
    benchmarks): every face grants them only through services/trust/operators.py."""
    handle = text.handle(handle)
    real_name = text.clean(real_name, field="name", max_len=text.NAME_MAX)
    bio = text.clean(bio, field="bio", max_len=text.DESCRIPTION_MAX, multiline=True, required=False)
    lat, lon = check_location(lat, lon)
    check_passphrase(passphrase)
    if session.exec(select(User.id).where(User.handle == handle)).first() is not None:
        raise Refused("handle_taken", f"The handle {handle!r} is taken; choose another.")
    public_lat, public_lon = geo.public_point(lat, lon, place_rng)
    user = User(
        handle=handle,
        real_name=real_name,
        passphrase_hash=hasher(hash_profile).hash(passphrase),
        verified=verified,
        role=role,
        lat=lat,
        lon=lon,
        public_lat=public_lat,
        public_lon=public_lon,
        area=area,
        bio=bio,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    operators.user_added(session, clock, user)
    return UserView.of(user)


def user_row(session: Session, handle: str) -> User:
    user = session.exec(select(User).where(User.handle == handle.strip().lower())).first()
    if user is None:
        raise Invalid("unknown_user", f"No user {text.strip_controls(handle)[:40]!r} here.")
    return user


def get_user(session: Session, handle: str) -> UserView:
    return UserView.of(user_row(session, handle))


def authenticate(session: Session, handle: str, passphrase: str) -> UserView:
    return unlock(user_row(session, handle), passphrase)


def unlock(user: User, passphrase: str) -> UserView:
    """`user` as seen once `passphrase` opens their account (Refused if it does not)."""
    try:
        hasher().verify(user.passphrase_hash, passphrase)
    except (VerificationError, InvalidHashError):
        raise Refused(
            "wrong_passphrase", f"That passphrase does not open {user.handle!r}."
        ) from None
    return UserView.of(user)


def list_users(session: Session, *, limit: int = 100, offset: int = 0) -> list[UserView]:
    rows = session.exec(select(User).order_by(col(User.id)).offset(offset).limit(limit))
    return [UserView.of(u) for u in rows]
