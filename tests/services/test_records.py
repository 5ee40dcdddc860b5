"""Records that can't be quietly rewritten: tamper, backup under load, restore, migrate, export."""

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from p2pmarket import config as config_mod
from p2pmarket.errors import Refused, StoreFailure
from p2pmarket.market import Market as MarketCases
from p2pmarket.models import Account, AccountKind, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.records import audit, backups, chain, export
from p2pmarket.services.trust import operators
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION
from tests.services.test_orders import Market

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def traded(store, clock):
    """Three settled orders: ledger entries, order events and credit events on file."""
    market = Market(store, clock)
    for _ in range(3):
        o = market.paid_order()
        market.act(market.seller, o.id, "deliver")
        market.act(market.buyer, o.id, "confirm")
    return market


def _sql(store, *statements):
    raw = sqlite3.connect(store.config.sqlite_path)
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def _problems(store):
    with store.read() as s:
        return audit.verify(s).problems


def test_clean_store_verifies(traded):
    with traded.store.read() as s:
        report = audit.verify(s)
    assert report.ok, report.problems
    assert report.rows_checked["ledger"] >= 9 and report.rows_checked["credit_events"] > 0


@pytest.mark.parametrize(
    ("statements", "table", "row_id"),
    [
        (
            [
                "UPDATE entry SET amount = amount + 100 WHERE id = 4",
                "UPDATE entry SET amount = amount - 100 WHERE id = 5",
            ],
            "entry",
            4,
        ),
        (["DELETE FROM entry WHERE id = 4"], "entry", 5),
        (
            ["DELETE FROM orderevent WHERE id = (SELECT max(id) FROM orderevent)"],
            "orderevent",
            None,
        ),
        (
            [
                "INSERT INTO orderevent (id, order_id, actor_id, at, from_status, to_status, "
                "amount, note, prev_hash, hash) SELECT 100, order_id, actor_id, at, from_status, "
                "to_status, amount, note, hash, hash FROM orderevent WHERE id = 3"
            ],
            "orderevent",
            100,
        ),
        (
            [
                "UPDATE orderevent SET note = 'x' WHERE id = 2",
                "UPDATE orderevent SET id = -1 WHERE id = 2",
                "UPDATE orderevent SET id = 2 WHERE id = 3",
                "UPDATE orderevent SET id = 3 WHERE id = -1",
            ],
            "orderevent",
            2,
        ),
        (["UPDATE credit_event SET score_after = 900 WHERE id = 1"], "credit_event", 1),
    ],
)
@pytest.mark.sqlite_only
def test_tampering_is_caught_and_named(traded, statements, table, row_id):
    _sql(traded.store, *statements)
    problems = _problems(traded.store)
    assert problems, "tampering went unnoticed"
    first = problems[0]
    assert first.table == table
    if row_id is not None:
        assert first.row_id == row_id


@pytest.mark.sqlite_only
def test_swapping_two_rows_is_caught(traded):
    _sql(
        traded.store,
        "UPDATE entry SET id = -1 WHERE id = 2",
        "UPDATE entry SET id = 2 WHERE id = 3",
        "UPDATE entry SET id = 3 WHERE id = -1",
    )
    first = _problems(traded.store)[0]
    assert (first.table, first.row_id) == ("entry", 2)


@pytest.mark.sqlite_only
def test_ledger_invariants_are_checked(traded):
    _sql(traded.store, "UPDATE account SET balance = balance + 5 WHERE user_id IS NOT NULL")
    whats = " ".join(p.what for p in _problems(traded.store))
    assert "sum of its entries" in whats and "not zero" in whats


@pytest.mark.sqlite_only
def test_backup_under_load_verifies_and_restores(traded, config, clock):
    stop, twenty = threading.Event(), threading.Event()
    writes = []

    def writer():
        store = Store.open(config)
        i = 0
        while not stop.is_set():
            with store.write() as s:
                ledger.topup(s, clock, traded.buyer.id, 1, f"load-{i}")
            writes.append(i)
            if len(writes) == 20:
                twenty.set()
            i += 1
        store.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert twenty.wait(60), "the writer made fewer than 20 writes in 60 s"
        made = backups.backup(traded.store, clock, reason="under-load")
    finally:
        stop.set()
        thread.join()
    assert len(writes) > 20
    assert backups.check_backup(config, Path(made.path)).ok
    traded.store.close()
    kept = backups.restore(config, clock, Path(made.path))
    assert kept is not None and kept.exists()
    restored = Store.open(config)
    with restored.read() as s:
        assert audit.verify(s).ok
        # The backup is a consistent snapshot: its balance matches its own entries.
        assert 100_000 - 45000 <= ledger.balance(s, traded.buyer.id) <= 55000 + len(writes)
    restored.close()


@pytest.mark.sqlite_only
def test_restore_refuses_a_backup_that_fails_verify(traded, config, clock, tmp_path):
    made = backups.backup(traded.store, clock, tmp_path / "b.db")
    raw = sqlite3.connect(made.path)
    raw.execute("UPDATE entry SET amount = 1 WHERE id = 2")
    raw.commit()
    raw.close()
    with pytest.raises(Refused, match="fails verify"):
        backups.restore(config, clock, Path(made.path))
    with traded.store.read() as s:
        assert audit.verify(s).ok


@pytest.mark.sqlite_only
def test_daily_backup_once_a_day_keeping_the_last_n(traded, clock, config):
    from p2pmarket.clock import DAY

    made = [backups.daily_backup(traded.store, clock)]
    assert made[0] is not None and backups.daily_backup(traded.store, clock) is None
    for _ in range(config.settings.backups_kept + 2):
        clock.advance(DAY)
        made.append(backups.daily_backup(traded.store, clock))
    dailies = sorted(config.backup_dir.glob("*-daily.db"))
    assert len(dailies) == config.settings.backups_kept
    assert not Path(made[0].path).exists() and Path(made[-1].path).exists()


@pytest.mark.sqlite_only
def test_older_schema_fixture_is_migrated_with_a_backup_and_history_intact(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURES / "market-v1.db", home / "market.db")
    raw = sqlite3.connect(home / "market.db")
    assert raw.execute("SELECT version FROM schema_version").fetchone()[0] == 1
    before = {
        t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("entry", "orderevent", "credit_event", "user", "listing")
    }
    raw.close()
    cfg = config_mod.resolve(home=home)
    store = Store.open(cfg)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as s:
            for t, n in before.items():
                assert s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == n
            assert audit.verify(s).ok
            # v3: an upgraded market's operator is its first user, as in a new market.
            first = s.execute(text("SELECT min(id) FROM user")).scalar()
            assert first is not None and operators.operator_id(s) == first
            logged = backups.list_backups(s)
        assert [b.reason for b in logged] == ["pre-migration-v1"]
        old = sqlite3.connect(logged[0].path)
        assert old.execute("SELECT version FROM schema_version").fetchone()[0] == 1
        old.close()
    finally:
        store.close()


def test_export_verifies_and_detects_a_rewrite(traded):
    with traded.store.read() as s:
        data = export.export_history(s, s.get(User, traded.buyer.id))
        assert export.verify_export(s, data).ok
    assert data["payments"] and data["credit_events"] and data["orders"]
    edited = {**data, "payments": [{**data["payments"][0], "amount": 1}, *data["payments"][1:]]}
    with traded.store.read() as s:
        assert not export.verify_export(s, edited).ok
    # Rewrite the whole ledger chain consistently: verify alone can't see it, the export can.
    with traded.store.write() as s:
        from p2pmarket.models import ChainHead, Entry

        rows = s.exec(__import__("sqlmodel").select(Entry).order_by(Entry.id)).all()
        prev = chain.GENESIS
        for row in rows:
            row.created_at += 1
            row.prev_hash = prev
            row.hash = chain.digest(prev, row)
            prev = row.hash
        head = s.get(ChainHead, "ledger")
        head.last_hash = prev
    with traded.store.read() as s:
        assert audit.verify(s).ok
        problems = export.verify_export(s, data).problems
    assert any("rewritten" in p.what or "differs" in p.what for p in problems)


def test_history_is_transaction_credit_newest_first(traded):
    with traded.store.read() as s:
        rows = export.history(s, s.get(User, traded.seller.id))
    assert rows and rows == sorted(rows, key=lambda r: r["id"], reverse=True)
    assert all(isinstance(r["score_after"], int) for r in rows)


@pytest.mark.sqlite_only
def test_full_disk_is_a_clear_refusal_and_writes_nothing(traded, config):
    from sqlalchemy import event

    store = Store.open(config)

    @event.listens_for(store.engine, "connect")
    def _tiny(dbapi_conn, _):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    with pytest.raises(StoreFailure) as info, store.write() as s:
        for i in range(2000):
            ledger.topup(s, traded.clock, traded.buyer.id, 1, f"fill-{i}-" + "x" * 200)
    assert info.value.code == "store_full"
    store.close()
    with traded.store.read() as s:
        assert ledger.balance(s, traded.buyer.id) == 55000


@pytest.mark.sqlite_only
def test_read_only_store_is_a_clear_refusal(traded, config):
    ro = Store(
        config_mod.Config(
            home=config.home, db_url=(f"sqlite:///file:{config.sqlite_path}?mode=ro&uri=true")
        )
    )
    with pytest.raises(StoreFailure) as info, ro.write() as s:
        ledger.topup(s, traded.clock, traded.buyer.id, 1, "ro")
    assert info.value.code == "store_read_only"
    ro.close()


def test_a_pre_v6_single_escrow_is_split_into_the_orders_own_when_the_market_opens(
    store, config, clock, monkeypatch
):
    m = Market(store, clock)
    # Pay as before v6: every payment into the one ESCROW row.
    with monkeypatch.context() as old:
        old.setattr(
            ledger, "escrow", lambda s, _order: ledger.system_account(s, AccountKind.escrow)
        )
        held = [m.paid_order().id, m.paid_order(qty=2).id]
        done = m.paid_order().id
        m.act(m.seller, done, "deliver")
        m.act(m.buyer, done, "confirm")
    with store.read() as s:
        assert ledger.old_escrow(s).balance == 3 * 15000
        assert orders.old_escrow_to_split(s) and audit.verify(s).ok
    market = MarketCases.open(config, clock)
    try:
        with store.read() as s:
            assert ledger.old_escrow(s).balance == 0 and not orders.old_escrow_to_split(s)
            own = dict(
                s.exec(
                    select(Account.order_id, Account.balance).where(
                        col(Account.order_id).is_not(None)
                    )
                ).all()
            )
            assert own == {held[0]: 15000, held[1]: 30000}
            t = ledger.totals(s)
            assert (t.sum_of_balances, t.negative_wallets, t.escrow) == (0, 0, 45000)
            assert audit.verify(s).ok
        # Money leaves from each order's own escrow: a refund and a release.
        m.act(m.buyer, held[0], "revoke")
        m.act(m.seller, held[1], "deliver")
        m.act(m.buyer, held[1], "confirm")
        assert m.balances() == (100_000 - 3 * 15000, 3 * 15000, 0)
        with store.read() as s:
            assert audit.verify(s).ok
        # Opening again finds nothing left to split.
        MarketCases.open(config, clock).close()
    finally:
        market.close()
