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
from p2pmarket.models import Account, AccountKind, ChainHead, Entry, Meta, User
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


# One writer process: tops up 1 fen again and again until `stop` exists, each under its own
# key, and appends the key to `ack` once the write returned (acknowledged). A write refused
# with a sentence is counted, never retried under the same key.
WRITER = """
import sys
from pathlib import Path
from p2pmarket.clock import FixedClock
from p2pmarket.config import Config, Settings
from p2pmarket.errors import StoreFailure
from p2pmarket.services.money import ledger
from p2pmarket.store.engine import Store

home, n, user_id, stop = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = Store(Config(home=home, db_url=f"sqlite:///{home / 'market.db'}", settings=Settings()))
clock = FixedClock(0)
refused = {}
with (home / f"ack-{n}.txt").open("a") as ack:
    i = 0
    while not stop.exists():
        key = f"w{n}-{i}"
        i += 1
        try:
            with store.write() as s:
                ledger.topup(s, clock, user_id, 1, key)
        except StoreFailure as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
            continue
        ack.write(key + "\\n")
        ack.flush()
store.close()
print(refused)
"""


def _topup_keys(db: Path, user_id: int) -> set[str]:
    raw = sqlite3.connect(db)
    prefix = ledger.user_key(user_id, "w")[:-1]
    try:
        rows = raw.execute(
            "SELECT idem_key FROM transfer WHERE idem_key LIKE ?", (prefix + "w%",)
        ).fetchall()
    finally:
        raw.close()
    return {key[len(prefix) :] for (key,) in rows}


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_restore_under_four_writer_processes_loses_no_acknowledged_write(
    traded, config, clock, tmp_path
):
    """Ten restores while four processes write: every acknowledged write is in the restored
    store or in one of the copies kept aside, and a write through a replaced file is refused
    with a sentence (store_replaced), never silently lost."""
    import subprocess
    import sys
    import time

    made = backups.backup(traded.store, clock, tmp_path / "good.db")
    traded.store.close()
    home, stop = config.home, tmp_path / "stop"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), str(n), str(traded.buyer.id), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    started = time.monotonic()
    kept = []
    try:
        acks = [home / f"ack-{n}.txt" for n in range(4)]
        while not all(a.exists() and a.stat().st_size > 100 for a in acks):
            assert time.monotonic() - started < 30, "the writers did not start writing"
            time.sleep(0.05)
        for _ in range(10):
            kept.append(backups.restore(config, clock, Path(made.path)))
            time.sleep(0.2)
    finally:
        stop.touch()
        refusals = [w.communicate(timeout=60)[0] for w in writers]
    assert time.monotonic() - started < 60
    assert all(w.returncode == 0 for w in writers), refusals
    assert None not in kept and len(set(kept)) == 10
    acknowledged = set()
    for ack in acks:
        acknowledged |= set(ack.read_text().split())
    found = _topup_keys(config.sqlite_path, traded.buyer.id)
    for aside in kept:
        found |= _topup_keys(aside, traded.buyer.id)
    lost = acknowledged - found
    print(f"acknowledged {len(acknowledged)}, lost {len(lost)}, refused {refusals}")
    assert len(acknowledged) > 200 and not lost
    # The restores landed amid the writes: old connections were turned away with a sentence.
    assert any("store_replaced" in r for r in refusals), refusals
    restored = Store.open(config)
    with restored.read() as s:
        assert audit.verify(s).ok
    restored.close()


def _truncate(db: Path) -> None:
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(b"not a market " * 4000)


def _scribble(db: Path) -> None:
    with db.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096 * 8)


def _empty(db: Path) -> None:
    db.write_bytes(b"")


def _missing(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _no_home(db: Path) -> None:
    shutil.rmtree(db.parent)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", [_truncate, _garbage, _scribble, _empty, _missing, _no_home])
def test_restore_over_a_damaged_or_missing_store_keeps_its_bytes_aside(
    traded, config, clock, tmp_path, damage
):
    made = backups.backup(traded.store, clock, tmp_path / "good.db")
    traded.store.close()
    live = config.sqlite_path
    damage(live)
    before = live.read_bytes() if live.exists() else None
    kept = backups.restore(config, clock, Path(made.path))
    if before is None:
        assert kept is None
    else:
        # Moved as bytes: what was there is kept exactly, under the name restore returned.
        assert kept.read_bytes() == before and "before-restore" in kept.name
    restored = Store.open(config)
    with restored.read() as s:
        assert audit.verify(s).ok
        assert ledger.balance(s, traded.buyer.id) == 55000
    restored.close()
    assert not list(live.parent.glob(".restoring-*"))


@pytest.mark.sqlite_only
def test_a_zero_length_or_foreign_file_is_refused_not_made_an_empty_market(config):
    live = config.sqlite_path
    live.parent.mkdir(parents=True, exist_ok=True)
    for content, what in ((b"", "empty file (0 bytes)"), (b"hello " * 100, "not a SQLite")):
        live.write_bytes(content)
        with pytest.raises(StoreFailure) as info:
            Store.open(config)
        assert info.value.code == "store_corrupt" and what in info.value.message
        assert "p2pmarket restore" in info.value.message
        assert live.read_bytes() == content


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
def test_a_zero_byte_daily_backup_does_not_count_as_the_days(traded, clock, config):
    day = config.backup_dir / "market-20261101-daily.db"
    day.parent.mkdir(parents=True, exist_ok=True)
    day.write_bytes(b"")
    made = backups.daily_backup(traded.store, clock)
    assert made is not None and Path(made.path) == day and day.stat().st_size > 0
    assert backups.check_backup(config, day).ok


@pytest.mark.sqlite_only
def test_a_backup_failing_at_the_write_is_one_sentence_and_leaves_no_file(
    traded, clock, config, monkeypatch
):
    def full(self, dest):
        Path(dest).write_bytes(b"half a copy")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "backup", full)
    with pytest.raises(StoreFailure) as info:
        backups.backup(traded.store, clock, config.backup_dir / "b.db")
    assert info.value.code == "backup_disk_full" and "no backup was written" in info.value.message
    assert list(config.backup_dir.iterdir()) == []
    with pytest.raises(StoreFailure):
        backups.daily_backup(traded.store, clock)
    with traded.store.read() as s:
        assert s.get(Meta, backups.DAILY_KEY) is None  # not counted: the next use tries again


def _break_an_index(store) -> None:
    raw = sqlite3.connect(store.config.sqlite_path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page,) = raw.execute(
        "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entry'"
    ).fetchone()
    size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    with store.config.sqlite_path.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\x0d" + b"\xff" * (size - 1))


@pytest.mark.sqlite_only
def test_damaged_pages_fail_verify_and_are_never_backed_up(traded, clock, config):
    traded.store.close()
    _break_an_index(traded.store)
    store = Store(config)
    with store.read() as s:
        report = audit.verify(s)
    assert not report.ok and "integrity_check" in report.problems[0].what
    with pytest.raises(StoreFailure) as info:
        backups.backup(store, clock, config.backup_dir / "b.db")
    assert info.value.code == "store_damaged" and "integrity check" in info.value.message
    assert not (config.backup_dir / "b.db").exists()
    assert not [p for p in config.backup_dir.iterdir() if "partial" in p.name]
    store.close()


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
    # Rewrite the buyer's whole ledger chain consistently: verify alone can't see it (the
    # hashes are unkeyed), the export can.
    with traded.store.write() as s:
        wallet = s.exec(select(Account.id).where(Account.user_id == traded.buyer.id)).one()
        rows = s.exec(select(Entry).where(Entry.account_id == wallet).order_by(Entry.id)).all()
        prev = chain.GENESIS
        for row in rows:
            row.created_at += 1
            row.prev_hash = prev
            row.hash = chain.digest(prev, row)
            prev = row.hash
        s.get(ChainHead, ("ledger", wallet)).last_hash = prev
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
    # Opening published the market's key: the steps below, written through the test's own
    # store handle, are signed by the market as the opened market's writes are.
    store.write_info.update(market.store.write_info)
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
