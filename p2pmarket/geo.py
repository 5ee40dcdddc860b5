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

Below them: distances on the sphere (haversine), the box around a circle, and the
geographic keys both search indexes are ordered by (a Z-order code of the place, then
the listing id), so a map cell is one key range.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from p2pmarket.errors import StoreFailure

# How far a search looks unless told (the CLI shows it in --help before loading search).
RADIUS_DEFAULT_KM = 3.0
EARTH_KM = 6371.0088
EARTH_M = 6_371_008.8
KM_PER_DEG = math.pi * EARTH_KM / 180
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
    rng = rng or random.SystemRandom()  # what secrets.SystemRandom is
    bearing = rng.uniform(0.0, 2 * math.pi)
    return moved(lat, lon, bearing, rng.uniform(OFFSET_MIN_M, OFFSET_MAX_M))


# ---------------------------------------------------------------- distances and boxes


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    """A latitude/longitude box that holds every point within `radius_km` of a centre."""

    lat0: float
    lat1: float
    lon0: float
    lon1: float
    wraps: bool

    @classmethod
    def around(cls, lat: float, lon: float, radius_km: float) -> Box:
        angle = radius_km / EARTH_KM
        dlat = math.degrees(angle) * (1 + 1e-9) + 1e-9
        lat0, lat1 = lat - dlat, lat + dlat
        if lat0 <= -90 or lat1 >= 90:
            return cls(max(lat0, -90.0), min(lat1, 90.0), -180.0, 180.0, False)
        # The widest longitude reach of a circle (Matuschek, "Finding points within a distance").
        reach = math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat))))
        dlon = math.degrees(reach) * (1 + 1e-9) + 1e-9
        lon0, lon1 = lon - dlon, lon + dlon
        wraps = lon0 < -180 or lon1 > 180
        if wraps:
            lon0, lon1 = -180.0, 180.0
        return cls(lat0, lat1, lon0, lon1, wraps)


# ---------------------------------------------------------------- geographic keys
# A search index keys each listing by a Z-order (Morton) code of its place, then its id.
# Listings close on the map are close in key order, so a map cell is one key range and an
# index seeks straight to it.
AXIS_BITS = 18
ID_BITS = 27
ID_MASK = (1 << ID_BITS) - 1
AXIS_CELLS = 1 << AXIS_BITS
# A query covers its box with at most this many Z-cells (merged into fewer key ranges).
MAX_CELLS = 16


def _spread(v: int) -> int:
    """Bits of v (< 2**32) moved to the even positions: 0b1011 → 0b1000101."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


# _spread of every 9-bit value: an axis coordinate (18 bits) is spread in two lookups.
_SPREAD_9 = tuple(_spread(v) for v in range(512))


def _spread_axis(v: int) -> int:
    return _SPREAD_9[v & 511] | (_SPREAD_9[v >> 9] << 18)


def _grid(lat: float, lon: float) -> tuple[int, int]:
    x = math.floor((lon + 180.0) / 360.0 * AXIS_CELLS)
    y = math.floor((lat + 90.0) / 180.0 * AXIS_CELLS)
    return min(max(x, 0), AXIS_CELLS - 1), min(max(y, 0), AXIS_CELLS - 1)


def geo_key(lat: float, lon: float, listing_id: int) -> int:
    """The index key of a listing: Morton code of its place, then its id."""
    if not 0 < listing_id <= ID_MASK:
        raise StoreFailure(
            "search_id_range", f"Listing #{listing_id} is beyond what the search index can key."
        )
    x, y = _grid(lat, lon)
    return ((_spread_axis(x) | (_spread_axis(y) << 1)) << ID_BITS) | listing_id


def key_ranges(box: Box | None) -> list[tuple[int, int]]:
    """Inclusive key ranges whose listings include every listing inside the box."""
    full = [(0, (1 << (2 * AXIS_BITS + ID_BITS)) - 1)]
    if box is None or box.wraps or box.lon1 - box.lon0 >= 360:
        return full
    x0, y0 = _grid(box.lat0, box.lon0)
    x1, y1 = _grid(box.lat1, box.lon1)
    level = 0
    for k in range(AXIS_BITS + 1):
        shift = AXIS_BITS - k
        if ((x1 >> shift) - (x0 >> shift) + 1) * ((y1 >> shift) - (y0 >> shift) + 1) > MAX_CELLS:
            break
        level = k
    shift = AXIS_BITS - level
    low_bits = 2 * shift + ID_BITS
    xs = [_spread_axis(cx) for cx in range(x0 >> shift, (x1 >> shift) + 1)]
    ys = [_spread_axis(cy) << 1 for cy in range(y0 >> shift, (y1 >> shift) + 1)]
    codes = sorted(x | y for x in xs for y in ys)
    ranges: list[tuple[int, int]] = []
    for code in codes:
        lo, hi = code << low_bits, ((code + 1) << low_bits) - 1
        if ranges and ranges[-1][1] + 1 == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges
