"""Public points: home moved by a drawn offset, exactly that far on the sphere."""

import math
import random

import pytest

from p2pmarket import geo


@pytest.mark.parametrize(
    ("lat", "lon", "bearing_deg"),
    [
        (31.229, 121.448, 0),
        (31.229, 121.448, 135),
        (-33.9, 18.4, 270),
        (0.0, 179.999, 90),
        (89.999, 10.0, 0),
    ],
)
def test_moved_is_exactly_that_far_and_stays_on_the_map(lat, lon, bearing_deg):
    there = geo.moved(lat, lon, math.radians(bearing_deg), 400.0)
    assert -90 <= there[0] <= 90 and -180 <= there[1] < 180
    assert geo.haversine_km(lat, lon, *there) * 1000 == pytest.approx(400.0, abs=1e-3)


def test_public_points_are_a_few_hundred_metres_off_in_every_direction():
    rng = random.Random(5)
    points = [geo.public_point(31.229, 121.448, rng) for _ in range(200)]
    metres = [geo.haversine_km(31.229, 121.448, *p) * 1000 for p in points]
    assert min(metres) >= geo.OFFSET_MIN_M - 1e-3 and max(metres) <= geo.OFFSET_MAX_M + 1e-3
    # Every quadrant is used: the direction tells nothing either.
    quadrants = {(p[0] > 31.229, p[1] > 121.448) for p in points}
    assert len(quadrants) == 4
    # Without a seeded generator every draw is fresh.
    assert geo.public_point(31.229, 121.448) != geo.public_point(31.229, 121.448)
