"""PostgreSQL by name: concurrency, migrate from SQLite, search parity, errors, tampering.

These run in any suite when P2PMARKET_TEST_PG is set (and skip with a reason when not);
`--backend postgresql` additionally runs the whole suite on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from p2pmarket import config as config_mod
from p2pmarket.errors import StoreFailure
from p2pmarket.models import ChainHead, Order, OrderStatus, User
from p2pmarket.services.market import demo, search
from p2pmarket.services.money import ledger
from p2pmarket.services.records import audit, backups
from p2pmarket.store.engine import Store
from tests.conftest import PASSPHRASE, make_listing, make_user
from tests.services.test_ledger_processes import accepted_orders

pytestmark = pytest.mark.pg
ROOT = Path(__file__).resolve().parents[2]
PREFIX = (sys.executable, "-m", "p2pmarket", "--home")
PAY = ("--as", "bob", "--confirm")


@pytest.fixture
def pg_config(pg_server, tmp_path):
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = pg_server.create(name)
    yield config_mod.resolve(home=tmp_path / "pg", db=url)
    pg_server.drop(name)


@pytest.fixture
def pg_store(pg_config):
    store = Store.open(pg_config)
    yield store
    store.close()


@pytest.mark.slow
def test_sixteen_clients_paying_from_one_wallet_never_overdraw(pg_store, pg_config, clock):
    buyer = make_user(pg_store, clock, "bob", verified=True)
    seller = make_user(pg_store, clock, "lin", verified=True)
    ids = accepted_orders(pg_store, clock, buyer, seller, 16, price=1000)
    with pg_store.write() as s:
        ledger.topup(s, clock, buyer.id, 10 * 1000, "fund")
    env = {
        **os.environ,
        "P2PMARKET_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": str(ROOT),
        "P2PMARKET_NOW": str(clock.now()),
    }
    procs = [
        subprocess.Popen(
            [*PREFIX, str(pg_config.home), "--db", pg_config.db_url, "order", "pay", str(i), *PAY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in ids
    ]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert sorted(code for code, _, _ in results) == [0] * 10 + [1] * 6, [
        err for code, _, err in results if code
    ]
    for code, _, err in results:
        assert "Traceback" not in err
        if code == 1:
            assert "Not enough money" in err
    with pg_store.read() as s:
        assert ledger.balance(s, buyer.id) == 0
        t = ledger.totals(s)
        assert (t.sum_of_balances, t.negative_wallets, t.escrow) == (0, 0, 10 * 1000)
        assert len(s.exec(select(Order).where(Order.status == OrderStatus.paid)).all()) == 10
        assert audit.verify(s).ok


def test_migrate_copies_a_market_with_its_chains(tmp_path, pg_config, clock):
    from tests.cli.conftest import Cli

    cli = Cli(tmp_path / "home")
    source = f"sqlite:///{tmp_path / 'home' / 'market.db'}"
    cli("--db", source, "demo")
    out = cli.json("migrate", "--from", source, "--to", pg_config.db_url)
    assert out["verify"]["ok"], out
    assert out["rows"]["entry"] > 0 and out["rows"]["orderevent"] > 0
    src = Store.open(config_mod.resolve(home=tmp_path / "home", db=source))
    dst = Store.open(pg_config)
    try:
        with src.read() as a, dst.read() as b:
            heads = select(ChainHead.kind, ChainHead.owner_id, ChainHead.last_hash).order_by(
                ChainHead.kind, ChainHead.owner_id
            )
            assert a.exec(heads).all() == b.exec(heads).all()
            assert ledger.totals(a) == ledger.totals(b)
        # The same query on both stores finds the same page; new rows get fresh ids.
        for store in (src, dst):
            with store.read() as s:
                me = s.exec(select(User).where(User.handle == "demo")).one()
                hits = search.search(s, clock, me, search.Query(lat=me.lat, lon=me.lon))
                store.found = [h.to_json() for h in hits.hits]
        assert src.found == dst.found and src.found
        assert make_user(dst, clock, "newcomer").id > 1
    finally:
        src.close()
        dst.close()
    again = cli("migrate", "--from", source, "--to", pg_config.db_url, code=1)
    assert "empty database" in again.output


@pytest.mark.parametrize(
    "text_, sort, extra",
    [
        ("", "nearest", {}),
        ("piano", "best", {}),
        ("pian", "best", {}),
        ("钢琴", "best", {}),
        ("bike", "cheapest", {}),
        ("lessons", "best", {"category": "piano-lessons", "max_price": 30000}),
        ("", "credit", {"radius_km": 20.0}),
        ("", "best", {"radius_km": 50.0, "page": 2}),
    ],
)
def test_search_on_postgresql_matches_sqlite(tmp_path, pg_server, clock, text_, sort, extra):
    stores = []
    name = f"t_{uuid.uuid4().hex[:16]}"
    for config in (
        config_mod.resolve(home=tmp_path / "lite"),
        config_mod.resolve(home=tmp_path / "pg", db=pg_server.create(name)),
    ):
        store = Store.open(config)
        demo.seed_market(store, clock, users=60, listings=1500, seed=11, area="jingan")
        stores.append(store)
    try:
        pages = []
        for store in stores:
            with store.read() as s:
                me = s.get(User, 1)
                query = search.Query(
                    text=text_, lat=31.2290, lon=121.4480, sort=search.parse_sort(sort), **extra
                )
                pages.append(search.search(s, clock, me, query).to_json())
        assert pages[0] == pages[1]
        assert pages[0]["hits"] or text_ == "钢琴"
    finally:
        for store in stores:
            store.close()
        pg_server.drop(name)


def test_listing_edits_reach_the_index(pg_store, clock):
    seller = make_user(pg_store, clock, "lin")
    buyer = make_user(pg_store, clock, "bob", lat=31.2300, lon=121.4490)
    listing = make_listing(pg_store, clock, seller, title="少儿钢琴课 for kids")
    with pg_store.read() as s:
        me = s.get(User, buyer.id)
        for words in ("钢琴", "钢", "kid", "少儿钢琴课"):
            page, _ = search.find(s, me, search.Query(text=words, lat=me.lat, lon=me.lon))
            assert [c.id for c in page] == [listing.id], words
    with pg_store.write() as s:
        s.execute(text("UPDATE listing SET title = 'Violin' WHERE id = :i"), {"i": listing.id})
        assert search.pending(s) == 1
        assert search.catch_up(s) == 1
    with pg_store.read() as s:
        page, _ = search.find(s, s.get(User, buyer.id), search.Query(text="钢琴", lat=31.23))
        assert page == []


def test_tampering_with_a_chain_is_caught(pg_store, clock):
    bob = make_user(pg_store, clock, "bob")
    with pg_store.write() as s:
        ledger.topup(s, clock, bob.id, 5000, "a")
        ledger.topup(s, clock, bob.id, 7000, "b")
    with pg_store.write() as s:
        s.execute(text("UPDATE entry SET amount = amount + 1 WHERE id = 2"))
    with pg_store.read() as s:
        report = audit.verify(s)
    assert not report.ok
    assert any(p.table == "entry" and p.row_id == 2 for p in report.problems)


def test_unreachable_server_is_one_clear_sentence(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{port}/market"
    with pytest.raises(StoreFailure) as info:
        Store.open(config_mod.resolve(home=tmp_path, db=url))
    assert info.value.code == "store_unreachable"
    assert f"can't reach the database at 127.0.0.1:{port}/market" in info.value.message.lower()
    assert "secret" not in info.value.message


def test_backups_say_they_are_for_sqlite(pg_store, clock, tmp_path):
    with pytest.raises(StoreFailure) as info:
        backups.backup(pg_store, clock, tmp_path / "b.db")
    assert info.value.code == "backup_unsupported" and "pg_dump" in info.value.message


def test_chat_commits_while_a_payment_transaction_is_open(pg_store, pg_config, clock):
    from concurrent.futures import ThreadPoolExecutor

    from p2pmarket.market import Market
    from p2pmarket.services.money import orders

    buyer = make_user(pg_store, clock, "bob", verified=True)
    seller = make_user(pg_store, clock, "lin", verified=True)
    make_user(pg_store, clock, "wang", verified=True)
    (order_id,) = accepted_orders(pg_store, clock, buyer, seller, 1, price=1000)
    with pg_store.write() as s:
        ledger.topup(s, clock, buyer.id, 1000, "fund")
    market = Market.open(pg_config, clock)
    # Opening published the market's key: the payment below, written through the test's
    # own store handle, is signed by the market as the opened market's writes are.
    pg_store.write_info.update(market.store.write_info)
    try:
        with pg_store.write() as s, ThreadPoolExecutor(1) as pool:
            # The payment has written its rows and holds its locks, uncommitted…
            orders.pay(s, clock, pg_config.settings, s.get(User, buyer.id), order_id)
            # …while the buyer and a neighbour chat on other connections: no waiting.
            for sender, to in (("bob", "lin"), ("wang", "bob")):
                actor = market.trusted_actor(sender)
                sent = pool.submit(actor.send_message, to, "still there?").result(timeout=5)
                assert sent.to == to
        with pg_store.read() as s:
            assert s.get(Order, order_id).status == OrderStatus.paid
            assert audit.verify(s).ok
    finally:
        market.close()
