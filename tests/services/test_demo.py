import json

import pytest
from sqlalchemy import func, text
from sqlmodel import col, select

from p2pmarket.errors import Invalid
from p2pmarket.models import Listing, Order, User
from p2pmarket.services.market import catalog, demo
from p2pmarket.services.money import orders
from p2pmarket.services.records import audit
from p2pmarket.store.engine import Store
from tests.conftest import fresh_config


def test_data_files_meet_the_floor():
    cats = catalog.categories()
    assert len(cats) >= 30
    assert {k for c in cats.values() for k in c.kinds} == {"goods", "skill", "time"}
    for c in cats.values():
        assert set(c.prior) == set(c.units)
        for band in c.prior.values():
            assert isinstance(band.p50, int) and band.p25 < band.p50 < band.p75
    assert len(catalog.areas()) >= 20
    data = demo.demo_data()
    assert len(data["users"]) >= 12 and len(data["listings"]) >= 60
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in x["title"]) for x in data["listings"])


def test_demo_loads_once(store, clock):
    first = demo.load_demo(store, clock)
    assert first["users"] >= 12 and first["listings"] >= 60
    assert demo.load_demo(store, clock) is None
    with store.read() as session:
        assert session.exec(select(func.count()).select_from(User)).one() == first["users"]


def test_demo_rents_out_things_with_deposits_one_rental_in_each_state(store, clock):
    made = demo.load_demo(store, clock)
    assert made["rentals"] == 5
    with store.read() as session:
        rentals = session.exec(select(Order).where(col(Order.deposit).is_not(None))).all()
        deposits = session.exec(select(Listing.title).where(col(Listing.deposit) > 0)).all()
        problems = audit.verify(session, pages=False).problems
    assert {"Sony A7 III rental with 28-70 lens", "Tent rental, 3-person, waterproof"} <= set(
        deposits
    )
    assert sorted(o.status for o in rentals) == sorted(
        ["requested", "paid", "handed_over", "returned", "claimed"]
    )
    assert problems == []
    assert demo.load_demo(store, clock) is None
    with store.read() as session:  # the timers of the waiting deposits have not run out
        assert (
            session.exec(
                select(func.count()).select_from(Order).where(col(Order.deposit).is_not(None))
            ).one()
            == 5
        )
        assert not orders.anything_due(session, clock)


def _dump(store: Store) -> list:
    with store.read() as session:
        users = session.execute(text('SELECT * FROM "user" ORDER BY id')).all()
        listings = session.execute(text("SELECT * FROM listing ORDER BY id")).all()
    return [tuple(r) for r in users] + [tuple(r) for r in listings]


def test_seed_is_deterministic(tmp_path, clock):
    dumps = []
    for name in ("a", "b"):
        s = Store.open(fresh_config(tmp_path / name))
        demo.seed_market(s, clock, users=50, listings=400, seed=7)
        dumps.append(_dump(s))
        s.close()
    assert dumps[0] == dumps[1]
    assert len(dumps[0]) == 450
    other = Store.open(fresh_config(tmp_path / "c"))
    demo.seed_market(other, clock, users=50, listings=400, seed=8)
    assert _dump(other) != dumps[0]
    other.close()


def test_seed_rows_are_valid(store, clock):
    demo.seed_market(store, clock, users=20, listings=300, seed=1, area="jingan")
    with store.read() as session:
        for listing in session.exec(select(Listing)):
            cat = catalog.categories()[listing.category]
            assert listing.kind in cat.kinds and listing.unit in cat.units
            assert isinstance(listing.price, int) and listing.price > 0


def test_load_refuses_bad_file_and_writes_nothing(store, clock, tmp_path):
    good = demo.demo_data()
    bad = dict(good, listings=[*good["listings"], dict(good["listings"][0], category="nope")])
    with pytest.raises(Invalid) as info, store.write() as session:
        demo.load_market(session, clock, bad, hash_profile="cheapest")
    assert "listings[" in info.value.message
    with store.read() as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 0
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(Invalid):
        demo.read_market_file(path)
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(Invalid):
        demo.read_market_file(path)
