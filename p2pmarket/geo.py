"""Public points: where others see a person, a few hundred metres from their home.

Rounded distances alone do not hide a home. Probing searches from points of the
attacker's choice find where "~0.2 km" turns into "~0.3 km" on three rays, and the
circle through those three points is centred exactly on the listing (the attack
that located dating-app users from "distance away"). So a person's listings, and
every distance or map position others see, start from a public point instead: home
moved by an offset drawn once (uniform bearing, OFFSET_MIN_M..OFFSET_MAX_M) and
stored with the person. Probes can at best find the public point; home stays
somewhere on a ring at least OFFSET_MIN_M around it. The offset never changes, so a
thousand more probes learn nothing a hundred did not. Only the person sees home.
"""

from __future__ import annotations

import math
import random
import secrets

EARTH_M = 6_371_008.8
OFFSET_MIN_M = 300.0
OFFSET_MAX_M = 500.0


def moved(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    """The point `metres` from (lat, lon) along `bearing` (radians from north), on the sphere.

    The great-circle destination, so the haversine distance back is exactly `metres`
    even near the poles or across the antimeridian.
    """
    p1, l1, d = math.radians(lat), math.radians(lon), metres / EARTH_M
    p2 = math.asin(
        min(1.0, math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    )
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def public_point(lat: float, lon: float, rng: random.Random | None = None) -> tuple[float, float]:
    """A new person's public point: home moved by a freshly drawn secret offset.

    `rng` only for synthetic markets (the demo, seeding) that must replay the same
    rows; real people's offsets come from the operating system's randomness.
    """
    rng = rng or secrets.SystemRandom()
    bearing = rng.uniform(0.0, 2 * math.pi)
    return moved(lat, lon, bearing, rng.uniform(OFFSET_MIN_M, OFFSET_MAX_M))
