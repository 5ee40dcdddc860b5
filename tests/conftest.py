"""Real stores: every test gets a fresh market, a SQLite file in tmp_path or, with
`--backend postgresql` (or P2PMARKET_TEST_BACKEND=postgresql), a fresh PostgreSQL
database cloned from a template on the server named by P2PMARKET_TEST_PG.

Tests that are SQLite by nature (raw sqlite3 tampering, PRAGMA, the backup API,
FTS5 internals) are marked `sqlite_only`; tests under tests/pg/ need PostgreSQL and
skip with a reason when P2PMARKET_TEST_PG is not set.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock, parse_instant
from p2pmarket.models import Kind, Listing, Order, OrderStatus, Unit, User
from p2pmarket.services.market import shops
from p2pmarket.services.money.orders.disputes import Opening
from p2pmarket.services.trust import accounts
from p2pmarket.store.engine import Store

# A dispute opens with a reason (services/money/orders/disputes.py). Tests that run any
# step by name pass it with every step; the other steps ignore it.
DISPUTE = Opening("It did not arrive as described")

START = parse_instant("2026-11-01T09:00:00")
PASSPHRASE = "correct horse battery"


PG_ENV = "P2PMARKET_TEST_PG"
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("P2PMARKET_TEST_BACKEND", "sqlite"),
        help="Run the suite on this store (postgresql needs P2PMARKET_TEST_PG).",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: inherently SQLite (files, PRAGMA, FTS5)")
    config.addinivalue_line("markers", "pg: needs a PostgreSQL server (P2PMARKET_TEST_PG)")
    if config.getoption("--backend") == "postgresql" and not os.environ.get(PG_ENV):
        raise pytest.UsageError(f"--backend postgresql needs {PG_ENV}=postgresql+psycopg://…")


def pytest_collection_modifyitems(config, items):
    on_pg = config.getoption("--backend") == "postgresql"
    no_pg = pytest.mark.skip(reason=f"needs PostgreSQL: set {PG_ENV} (see .ci/run)")
    sqlite_only = pytest.mark.skip(reason="SQLite by nature (sqlite_only)")
    for item in items:
        if "pg" in item.keywords and not os.environ.get(PG_ENV):
            item.add_marker(no_pg)
        if on_pg and "sqlite_only" in item.keywords:
            item.add_marker(sqlite_only)


# The server while the suite runs on PostgreSQL (see `fresh_config`).
_PG: dict = {}


@pytest.fixture(scope="session")
def pg_server():
    """Makes and drops PostgreSQL databases on P2PMARKET_TEST_PG's server, or None."""
    url = os.environ.get(PG_ENV)
    if not url:
        yield None
        return
    from tests.pg.server import Server

    server = Server(url)
    _PG["server"] = server
    yield server
    _PG.clear()
    server.close()


def fresh_config(home) -> config_mod.Config:
    """A config for one more, separate market: a new SQLite home, or a new PG database."""
    server = _PG.get("server") if os.environ.get("P2PMARKET_DB") else None
    if server is None:
        return config_mod.resolve(home=home)
    return config_mod.resolve(home=home, db=server.create(f"t_{uuid.uuid4().hex[:16]}"))


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.config.getoption("--backend")


def _shares_a_market(module) -> bool:
    """Does the module build one market for all its tests (a module-scoped fixture)?"""
    return any(
        getattr(getattr(f, "_fixture_function_marker", None), "scope", None) == "module"
        or getattr(getattr(f, "_pytestfixturefunction", None), "scope", None) == "module"
        for f in vars(module).values()
    )


@pytest.fixture(scope="module", autouse=True)
def _module_db(request, backend):
    """On PostgreSQL, a module whose tests share one market shares one database too;
    it is in the environment before the module's own fixtures build the market."""
    if backend != "postgresql" or not _shares_a_market(request.module):
        yield None
        return
    server = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with pytest.MonkeyPatch.context() as mp:
        url = server.create(name)
        mp.setenv("P2PMARKET_DB", url)
        yield url
    server.drop(name)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path, request, backend, _module_db):
    """No test touches the real user data dir, and hashing is cheap."""
    monkeypatch.setenv("P2PMARKET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("P2PMARKET_HASH_PROFILE", "cheapest")
    monkeypatch.setenv("P2PMARKET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("P2PMARKET_DB", raising=False)
    if _module_db is not None:
        monkeypatch.setenv("P2PMARKET_DB", _module_db)
    elif backend == "postgresql" and "sqlite_only" not in request.keywords:
        server = request.getfixturevalue("pg_server")
        name = f"t_{uuid.uuid4().hex[:16]}"
        monkeypatch.setenv("P2PMARKET_DB", server.create(name))
        yield
        server.drop(name)
        return
    yield
    monkeypatch.delenv("P2PMARKET_NOW", raising=False)
    monkeypatch.delenv("P2PMARKET_PASSPHRASE", raising=False)


@pytest.fixture
def config(tmp_path) -> config_mod.Config:
    return config_mod.resolve(home=tmp_path / "home")


# A Python value printed for people (#13 item 8): True/False/None, a dict or list repr,
# epoch seconds. The CLI's read commands and the TUI's screens are swept for it.
PYTHON_VALUE = re.compile(r"\b(True|False|None)\b|\{'|\['|\b1[5-9]\d{8}\b")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store(config):
    s = Store.open(config)
    yield s
    s.close()


def make_user(
    store: Store, clock, handle: str, *, lat=31.2290, lon=121.4480, public=None, **kw
) -> User:
    """A user at home (lat, lon). Others see them at a secret public point, or at
    `public` (lat, lon) when a test needs to know where their listings lie."""
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
        user = session.get(User, view.id)
        if public is not None:
            user.public_lat, user.public_lon = public
        return user


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


def make_goods(
    store: Store, clock, seller: User, title: str, price: int, category="musical-instruments", **kw
) -> shops.ListingView:
    """One item of goods for sale (per item unless `unit` says otherwise)."""
    kw.setdefault("unit", Unit.item)
    return make_listing(
        store,
        clock,
        seller,
        kind=Kind.goods,
        title=title,
        category=category,
        price=price,
        quantity=1,
        **kw,
    )


def make_sale(store: Store, clock, listing: shops.ListingView, buyer: User, price: int) -> None:
    """A completed order of `listing` at `price`: a price point (the row alone, as seeded
    markets hold them), not a trade with its events."""
    with store.write() as session:
        session.add(
            Order(
                listing_id=listing.id,
                title=listing.title,
                buyer_id=buyer.id,
                seller_id=session.get(Listing, listing.id).seller_id,
                kind=Kind.goods,
                quantity=1,
                unit_price=price,
                amount=price,
                status=OrderStatus.completed,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
