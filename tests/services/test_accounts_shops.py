import pytest
from sqlalchemy import func
from sqlmodel import select

from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Kind, Listing, Unit, User
from p2pmarket.services.market import shops
from p2pmarket.services.trust import accounts
from tests.conftest import PASSPHRASE, make_listing, make_user


def test_passphrase_is_hashed_with_argon2_and_checked(store, clock):
    user = make_user(store, clock, "alice")
    assert user.passphrase_hash.startswith("$argon2id$")
    assert PASSPHRASE not in user.passphrase_hash
    with store.read() as session:
        assert accounts.authenticate(session, "ALICE", PASSPHRASE).handle == "alice"
        with pytest.raises(Refused):
            accounts.authenticate(session, "alice", "wrong passphrase")


def test_handles_are_unique_and_well_formed(store, clock):
    make_user(store, clock, "alice")
    with pytest.raises(Refused):
        make_user(store, clock, "Alice")
    for bad in ("al", "has space", "x" * 21, "tab\there", "ünï"):
        with pytest.raises(Invalid):
            make_user(store, clock, bad)


@pytest.mark.parametrize(("lat", "lon"), [(91, 0), (-90.5, 0), (0, 181), (float("nan"), 0)])
def test_location_must_be_on_earth(store, clock, lat, lon):
    with pytest.raises(Invalid):
        make_user(store, clock, "alice", lat=lat, lon=lon)


def test_listing_lifecycle(store, clock):
    seller = make_user(store, clock, "lin")
    view = make_listing(store, clock, seller)
    assert (view.status, view.price, view.seller) == ("active", 15000, "lin")
    with store.write() as session:
        me = session.get(User, seller.id)
        assert shops.change_status(session, clock, me, view.id, "pause").status == "paused"
        with pytest.raises(Refused):
            shops.change_status(session, clock, me, view.id, "pause")
        assert shops.change_status(session, clock, me, view.id, "resume").status == "active"
        edited = shops.edit_listing(
            session, clock, me, view.id, title="  Piano   for kids ", price=18000
        )
        assert (edited.title, edited.price) == ("Piano for kids", 18000)
        assert shops.change_status(session, clock, me, view.id, "remove").status == "removed"
        with pytest.raises(Refused):
            shops.edit_listing(session, clock, me, view.id, title="back")


def test_only_the_seller_edits(store, clock):
    lin = make_user(store, clock, "lin")
    eve = make_user(store, clock, "eve")
    view = make_listing(store, clock, lin)
    with store.write() as session, pytest.raises(Refused):
        shops.edit_listing(session, clock, session.get(User, eve.id), view.id, price=1)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"category": "nope"}, "unknown_category"),
        ({"unit": Unit.item}, "unit_not_allowed"),
        ({"kind": Kind.goods}, "kind_not_allowed"),
        ({"title": ""}, "title_empty"),
        ({"title": "x" * 10_000}, "title_too_long"),
        ({"price": 0}, "amount_zero"),
        ({"price": -5}, "amount_negative"),
        ({"quantity": 0}, "quantity_range"),
    ],
)
def test_bad_listing_writes_nothing(store, clock, fields, code):
    seller = make_user(store, clock, "lin")
    with pytest.raises(Invalid) as info:
        make_listing(store, clock, seller, **fields)
    assert info.value.code == code
    with store.read() as session:
        assert session.exec(select(func.count()).select_from(Listing)).one() == 0


def test_control_characters_are_stripped_from_titles(store, clock):
    seller = make_user(store, clock, "lin")
    view = make_listing(store, clock, seller, title="Free\x1b]0;pwned\x07 bike\u202e\x9b31m")
    assert view.title == "Free]0;pwned bike31m"
