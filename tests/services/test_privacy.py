"""Published facts: profiles show only what the user switched on; never a location."""

import pytest

from p2pmarket.errors import Invalid
from p2pmarket.models import Tier, User
from p2pmarket.services.trust import contacts, privacy
from tests.services.trust_helpers import completed, person


def _profile(store, clock, viewer, user):
    with store.read() as s:
        return privacy.public_profile(s, viewer.id if viewer else None, user.id, clock)


def test_defaults_hide_real_name_and_spending(store, clock):
    viewer, user = person(store, clock, "viewer"), person(store, clock, "user", name="Li Wei")
    data = _profile(store, clock, viewer, user).to_json()
    assert set(data) == {
        "handle",
        "distance",
        "blocked",
        "verified",
        "credit",
        "trades",
        "member_since",
    }
    assert "Li Wei" not in str(data)
    assert data["credit"] == {"transaction": 600, "social": 650}


def test_each_fact_switches_on_and_off(store, clock):
    viewer, user = person(store, clock, "viewer"), person(store, clock, "user", name="Li Wei")
    seller = person(store, clock, "seller")
    completed(store, clock, user, seller, 123_45)
    with store.write() as s:
        me = s.get(User, user.id)
        privacy.set_fact(s, me, "real_name", True)
        privacy.set_fact(s, me, "spent", True)
        privacy.set_fact(s, me, "credit", False)
    data = _profile(store, clock, viewer, user).to_json()
    assert data["real_name"] == "Li Wei" and data["spent"] == 123_45 and data["trades"] == 1
    assert "credit" not in data
    with store.write() as s:
        me = s.get(User, user.id)
        for fact in privacy.FACTS:
            view = privacy.set_fact(s, me, fact, False)
    assert view.note and "can't pay" in view.note
    assert set(_profile(store, clock, viewer, user).to_json()) == {"handle", "distance", "blocked"}


def test_distance_is_rounded_from_the_public_point_never_home(store, clock):
    viewer = person(store, clock, "viewer", lat=31.2290, lon=121.4480)
    # Home 1.2 km north of the viewer; others see them at their public point, 1.7 km north.
    near = person(store, clock, "near", lat=31.2400, lon=121.4480, public=(31.2440, 121.4480))
    far = person(store, clock, "far", lat=31.3290, lon=121.4480, public=(31.3290, 121.4480))
    assert _profile(store, clock, viewer, near).distance == "~1.7 km"
    assert _profile(store, clock, viewer, far).distance == "~11 km"
    assert _profile(store, clock, None, far).distance is None
    assert _profile(store, clock, far, far).distance is None
    assert [privacy.rounded_distance(k) for k in (0.2, 3.14159, 42.4, 1234.0)] == [
        "< 0.5 km",
        "~3.1 km",
        "~42 km",
        "~1230 km",
    ]


def test_blocked_viewers_see_only_a_handle(store, clock):
    viewer, user = person(store, clock, "viewer"), person(store, clock, "user")
    with store.write() as s:
        contacts.set_tier(s, clock, s.get(User, user.id), s.get(User, viewer.id), Tier.blocked)
    profile = _profile(store, clock, viewer, user)
    assert profile.blocked and profile.published == () and profile.distance is None


def test_fact_and_switch_parsing(store, clock):
    assert privacy.parse_fact("Member-Since") == "member_since"
    assert privacy.parse_switch("ON") is True and privacy.parse_switch("off") is False
    with pytest.raises(Invalid):
        privacy.parse_fact("home_address")
    with pytest.raises(Invalid):
        privacy.parse_switch("maybe")
