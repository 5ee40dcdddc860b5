"""Anonymous front, real-name back: which facts a user publishes, and what others see.

Others see a handle, a rounded distance from the user's public point (never their
home: see geo.py), and only the facts the user switched on. `public_profile` is the
one place that decides, so profiles, search results and chat headers agree.
Unpublished facts are absent from the profile (and its JSON), not merely blank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid
from p2pmarket.models import Listing, User
from p2pmarket.services.trust import contacts, credit, operators

# fact name -> (User column, label shown to people)
FACTS: dict[str, tuple[str, str]] = {
    "real_name": ("pub_real_name", "real name"),
    "verified": ("pub_verified", "verified badge"),
    "credit": ("pub_credit", "credit scores"),
    "trades": ("pub_trades", "number of trades"),
    "spent": ("pub_spent", "total spent"),
    "member_since": ("pub_member_since", "member since"),
}
EARTH_RADIUS_KM = 6371.0088


def parse_fact(value: str) -> str:
    key = value.strip().lower().replace("-", "_")
    if key not in FACTS:
        raise Invalid("fact_unknown", f"Fact {value[:30]!r} must be one of: {', '.join(FACTS)}.")
    return key


def parse_switch(value: str) -> bool:
    key = value.strip().lower()
    if key in ("on", "yes", "true", "1"):
        return True
    if key in ("off", "no", "false", "0"):
        return False
    raise Invalid("switch_format", f"{value[:20]!r} must be on or off.")


def published(user: User) -> tuple[str, ...]:
    return tuple(name for name, (column, _label) in FACTS.items() if getattr(user, column))


def published_any(user: User) -> bool:
    return bool(published(user))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def rounded_distance(km: float) -> str:
    """Coarse on purpose: close by is a band, never a spot."""
    if km < 0.5:
        return "< 0.5 km"
    if km < 10:
        return f"~{km:.1f} km"
    if km < 100:
        return f"~{round(km)} km"
    return f"~{round(km, -1):.0f} km"


MAP_STEP_MIN_KM = 0.25


def rough_offsets(
    session: Session, viewer: User, listing_ids: list[int], step_km: float
) -> dict[int, tuple[int, int]]:
    """Where listings lie from the viewer, in whole steps (east, north): a map, never a spot.

    Steps are at least MAP_STEP_MIN_KM, as coarse as the rounded distances.
    """
    step = max(step_km, MAP_STEP_MIN_KM)
    rows = session.exec(
        select(Listing.id, Listing.lat, Listing.lon).where(col(Listing.id).in_(listing_ids))
    ).all()
    km_per_deg = math.pi * EARTH_RADIUS_KM / 180
    east_scale = km_per_deg * math.cos(math.radians(viewer.lat))
    return {
        lid: (
            round((lon - viewer.lon) * east_scale / step),
            round((lat - viewer.lat) * km_per_deg / step),
        )
        for lid, lat, lon in rows
    }


@dataclass(frozen=True)
class PublicProfile:
    handle: str
    distance: str | None
    blocked: bool
    published: tuple[str, ...]
    real_name: str | None = None
    verified: bool | None = None
    credit_transaction: int | None = None
    credit_social: int | None = None
    trades: int | None = None
    spent: int | None = None
    member_since: int | None = None

    def to_json(self) -> dict:
        """Only what is published: hidden facts are absent, not null."""
        data: dict = {"handle": self.handle, "distance": self.distance, "blocked": self.blocked}
        if "real_name" in self.published:
            data["real_name"] = self.real_name
        if "verified" in self.published:
            data["verified"] = self.verified
        if "credit" in self.published:
            data["credit"] = {"transaction": self.credit_transaction, "social": self.credit_social}
        if "trades" in self.published:
            data["trades"] = self.trades
        if "spent" in self.published:
            data["spent"] = self.spent
        if "member_since" in self.published:
            data["member_since"] = self.member_since
        return data

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs for people; money and times formatted by the face."""
        return [(k, v) for k, v in self.to_json().items() if k != "handle"]


def public_profile(
    session: Session, viewer_id: int | None, user_id: int, clock: Clock | None = None
) -> PublicProfile:
    """What `viewer_id` may see of `user_id` (None: an anonymous viewer, no distance).

    With a clock, credit is computed fresh from events; without, the recorded scores.
    """
    user = session.get(User, user_id)
    if user is None:
        raise Invalid("unknown_user", f"No user #{user_id} here.")
    viewer = session.get(User, viewer_id) if viewer_id is not None else None
    if viewer is not None and viewer.id != user.id:
        if contacts.blocked_between(session, viewer.id, user.id):
            return PublicProfile(handle=user.handle, distance=None, blocked=True, published=())
        # From the viewer's own home to where others see this person, never their home.
        distance = rounded_distance(
            distance_km(viewer.lat, viewer.lon, user.public_lat, user.public_lon)
        )
    else:
        distance = None
    shown = published(user)
    fields: dict = {}
    if "real_name" in shown:
        fields["real_name"] = user.real_name
    if "verified" in shown:
        fields["verified"] = user.verified
    if "credit" in shown:
        scores = (
            credit.compute(session, clock, user.id) if clock else credit.scores(session, user.id)
        )
        fields["credit_transaction"], fields["credit_social"] = scores
    if "trades" in shown or "spent" in shown:
        stats = credit.trade_stats(session, user.id)
        if "trades" in shown:
            fields["trades"] = stats.completed
        if "spent" in shown:
            fields["spent"] = stats.spent
    if "member_since" in shown:
        fields["member_since"] = user.created_at
    return PublicProfile(
        handle=user.handle, distance=distance, blocked=False, published=shown, **fields
    )


@dataclass(frozen=True)
class DirectoryEntry:
    """One person in `user list` / `user show`: the public profile plus their market role."""

    id: int
    role: str
    operator: bool
    profile: PublicProfile

    def to_json(self) -> dict:
        return {
            "id": self.id,
            **self.profile.to_json(),
            "role": self.role,
            "operator": self.operator,
        }


def directory(
    session: Session, viewer_id: int | None, *, limit: int = 100, offset: int = 0
) -> list[DirectoryEntry]:
    """Everyone as `viewer_id` may see them: never a location, never an unpublished fact."""
    ids = session.exec(select(User.id).order_by(col(User.id)).offset(offset).limit(limit)).all()
    return [directory_entry(session, viewer_id, uid) for uid in ids]


def directory_entry(session: Session, viewer_id: int | None, user_id: int) -> DirectoryEntry:
    profile = public_profile(session, viewer_id, user_id)
    user = session.get(User, user_id)
    return DirectoryEntry(
        id=user_id,
        role=str(user.role),
        operator=operators.operator_id(session) == user_id,
        profile=profile,
    )


@dataclass(frozen=True)
class FactSetting:
    fact: str
    label: str
    published: bool

    def to_json(self) -> dict:
        return {"fact": self.fact, "label": self.label, "published": self.published}


@dataclass(frozen=True)
class PrivacyView:
    handle: str
    facts: tuple[FactSetting, ...]
    note: str | None

    def to_json(self) -> dict:
        return {
            "handle": self.handle,
            "facts": [f.to_json() for f in self.facts],
            "note": self.note,
        }


def privacy_view(user: User) -> PrivacyView:
    facts = tuple(
        FactSetting(fact=name, label=label, published=bool(getattr(user, column)))
        for name, (column, label) in FACTS.items()
    )
    note = None
    if not any(f.published for f in facts):
        note = (
            "You publish no facts: others can't judge you, so you can't pay or request "
            "money until you publish at least one."
        )
    return PrivacyView(handle=user.handle, facts=facts, note=note)


def set_fact(session: Session, user: User, fact: str, on: bool) -> PrivacyView:
    column, _label = FACTS[parse_fact(fact)]
    setattr(user, column, on)
    session.add(user)
    session.flush()
    return privacy_view(user)
