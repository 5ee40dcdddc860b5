"""Real stores on real files: every test gets a fresh SQLite market in tmp_path."""

from __future__ import annotations

import pytest

from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock, parse_instant
from p2pmarket.db import Store
from p2pmarket.models import Kind, Unit, User
from p2pmarket.services import accounts, shops

START = parse_instant("2026-11-01T09:00:00")
PASSPHRASE = "correct horse battery"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test touches the real user data dir, and hashing is cheap."""
    monkeypatch.setenv("P2PMARKET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("P2PMARKET_HASH_PROFILE", "cheapest")
    monkeypatch.delenv("P2PMARKET_DB", raising=False)
    monkeypatch.delenv("P2PMARKET_NOW", raising=False)
    monkeypatch.delenv("P2PMARKET_PASSPHRASE", raising=False)


@pytest.fixture
def config(tmp_path) -> config_mod.Config:
    return config_mod.resolve(home=tmp_path / "home")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store(config):
    s = Store.open(config)
    yield s
    s.close()


def make_user(store: Store, clock, handle: str, *, lat=31.2290, lon=121.4480, **kw) -> User:
    with store.write() as session:
        view = accounts.create_user(
            session,
            clock,
            handle=handle,
            real_name=kw.pop("name", handle.title()),
            passphrase=PASSPHRASE,
            lat=lat,
            lon=lon,
            hash_profile="cheapest",
            **kw,
        )
        return session.get(User, view.id)


def make_listing(store: Store, clock, seller: User, **kw) -> shops.ListingView:
    fields = {
        "kind": Kind.skill,
        "title": "Piano lessons",
        "category": "piano-lessons",
        "price": 15000,
        "unit": Unit.hour,
        "quantity": 5,
    }
    fields.update(kw)
    with store.write() as session:
        return shops.add_listing(session, clock, session.get(User, seller.id), **fields)
