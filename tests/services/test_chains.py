"""Chains per owner (hashchain.py) on a real store: every tamper in every chain kind, the
checkpoints that catch a shortened chain, incremental verify, and the v5 -> v6 upgrade.

The store is the demo market saved at schema version 5 (one chain per table), upgraded
on open: every chain kind has rows in it, chat included.
"""

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, text

from p2pmarket import config as config_mod
from p2pmarket.clock import FixedClock
from p2pmarket.errors import StoreFailure
from p2pmarket.hashchain import KINDS, ChainKind
from p2pmarket.market import Market, records
from p2pmarket.services.money import ledger
from p2pmarket.services.records import audit, backups, chain, seen
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION

pytestmark = pytest.mark.sqlite_only

V5 = Path(__file__).resolve().parents[1] / "fixtures" / "market-v5.db"
CHAINED = [k for k in KINDS if k.name != "checkpoints"]
# The kinds a v5 store holds (key records came with signatures, v8; disputes' notes, v17).
IN_V5 = [k for k in CHAINED if k.name not in ("keys", "disputes")]
TABLES = {k.name: k.model.__tablename__ for k in KINDS}


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(V5, home / "market.db")
    return home


@pytest.fixture
def upgraded(tmp_path):
    store = Store.open(config_mod.resolve(home=_home(tmp_path)))
    yield store
    store.close()


def _raw(store):
    return sqlite3.connect(store.config.sqlite_path)


def _sql(store, *statements):
    raw = _raw(store)
    for statement in statements:
        raw.execute(statement)
    raw.commit()
    raw.close()


def _longest(store, kind: ChainKind) -> tuple[int, list[tuple[int, str]]]:
    """The owner with the most rows of `kind`, and its rows (id, hash) in chain order."""
    table, owner = TABLES[kind.name], kind.owner or "0"
    raw = _raw(store)
    (who,) = raw.execute(
        f"SELECT {owner} FROM {table} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()
    rows = raw.execute(
        f"SELECT id, hash FROM {table} WHERE {owner} = ? ORDER BY id", (who,)
    ).fetchall()
    raw.close()
    assert len(rows) >= 2, f"the fixture needs a {kind.name} chain of two rows"
    return who, rows


def _checkpoint(store, clock):
    with store.write() as s:
        return chain.checkpoint(s, clock)


def _problems(store, since=None):
    with store.read() as s:
        return audit.verify(s, since).problems


def _time_column(kind: ChainKind) -> str:
    return "created_at" if kind.name == "ledger" else "at"


def _copy_row(store, table: str, row_id: int, new_id: int) -> str:
    """A copy of a row under a new id (a review's author moved: one review per author)."""
    raw = _raw(store)
    columns = [c[1] for c in raw.execute(f"PRAGMA table_info({table})") if c[1] != "id"]
    raw.close()
    picked = [f"{c} + 1000" if (table, c) == ("review", "author_id") else c for c in columns]
    return (
        f"INSERT INTO {table} (id, {', '.join(columns)}) "
        f"SELECT {new_id}, {', '.join(picked)} FROM {table} WHERE id = {row_id}"
    )


# Each tamper: the statements given (table, owner, rows, kind), and the row verify must name.
def _edit(table, owner, rows, kind):
    column = _time_column(kind)
    return [f"UPDATE {table} SET {column} = {column} + 1 WHERE id = {rows[0][0]}"], rows[0][0]


def _delete(table, owner, rows, kind):
    return [f"DELETE FROM {table} WHERE id = {rows[0][0]}"], rows[1][0]


def _delete_tail(table, owner, rows, kind):
    (last, _), (before, before_hash) = rows[-1], rows[-2]
    return [
        f"DELETE FROM {table} WHERE id = {last}",
        f"UPDATE chain_head SET last_id = {before}, last_hash = '{before_hash}' "
        f"WHERE kind = '{kind.name}' AND owner_id = {owner}",
    ], last


def _swap(table, owner, rows, kind):
    a, b = rows[0][0], rows[1][0]
    return [
        f"UPDATE {table} SET id = -1 WHERE id = {a}",
        f"UPDATE {table} SET id = {a} WHERE id = {b}",
        f"UPDATE {table} SET id = {b} WHERE id = -1",
    ], a


TAMPERS = {"edit": _edit, "delete": _delete, "delete_tail": _delete_tail, "swap": _swap}


@pytest.mark.parametrize("tamper", [*TAMPERS, "insert"])
@pytest.mark.parametrize("kind", CHAINED, ids=lambda k: k.name)
def test_every_tamper_in_every_chain_kind_is_named(upgraded, clock, kind, tamper):
    if kind.name == "keys":  # signed records (#20) came after v5: a person makes two
        market = Market(upgraded, clock)
        market.actor("demo", "market-demo-2026").rotate_key("market-demo-2026")
    if kind.name == "disputes":  # v17: a reason and a statement on a paid order
        _a_dispute_with_a_statement(Market(upgraded, clock))
    assert not _problems(upgraded)
    # A checkpoint saw every chain whole: deleting its last rows now shows.
    _checkpoint(upgraded, clock)
    owner, rows = _longest(upgraded, kind)
    table = TABLES[kind.name]
    if tamper == "insert":
        raw = _raw(upgraded)
        new_id = raw.execute(f"SELECT max(id) FROM {table}").fetchone()[0] + 1000
        raw.close()
        statements, named = [_copy_row(upgraded, table, rows[0][0], new_id)], new_id
    else:
        statements, named = TAMPERS[tamper](table, owner, rows, kind)
    _sql(upgraded, *statements)
    problems = _problems(upgraded)
    assert (kind.label(owner), table, named) in {(p.chain, p.table, p.row_id) for p in problems}, (
        problems
    )


def _a_dispute_with_a_statement(market: Market) -> None:
    raw = _raw(market.store)
    order_id, buyer, seller = raw.execute(
        "SELECT o.id, b.handle, s.handle FROM orders o JOIN user b ON b.id = o.buyer_id "
        "JOIN user s ON s.id = o.seller_id WHERE o.status = 'paid' ORDER BY o.id LIMIT 1"
    ).fetchone()
    raw.close()
    market.actor(buyer, "market-demo-2026").open_dispute(order_id, "It never came")
    market.actor(seller, "market-demo-2026").add_statement(order_id, "It is on its way")


def test_a_shortened_chain_with_its_head_moved_back_needs_the_checkpoint(upgraded, clock):
    owner, rows = _longest(upgraded, KINDS[0])
    statements, _ = _delete_tail("entry", owner, rows, KINDS[0])
    # Keep the ledger balanced, so only the chains can tell.
    (amount,) = (
        _raw(upgraded).execute(f"SELECT amount FROM entry WHERE id = {rows[-1][0]}").fetchone()
    )
    statements.append(f"UPDATE account SET balance = balance - {amount} WHERE id = {owner}")
    _checkpoint(upgraded, clock)
    _sql(upgraded, *statements)
    chain_problems = [p for p in _problems(upgraded) if p.chain == f"ledger account {owner}"]
    assert [p.row_id for p in chain_problems] == [rows[-1][0]]
    assert "checkpoint #1 recorded this row" in chain_problems[0].what


def test_incremental_verify_walks_only_new_rows_and_still_sees_a_shortened_chain(upgraded, clock):
    market = Market(upgraded, clock)
    full = records.verify(market, full=True)
    assert full.ok and full.since is None and full.rows_checked["ledger"] == 68
    with upgraded.write() as s:
        ledger.topup(s, clock, 1, 500, "after-the-checkpoint")
    incremental = records.verify(market)
    assert incremental.ok and incremental.since == 1
    assert incremental.rows_checked["ledger"] == 2 and incremental.rows_checked["chat"] == 0
    # An old row edited after a clean verify: the incremental walk trusts it, --full doesn't.
    _sql(upgraded, "UPDATE message SET body = 'edited' WHERE id = 1")
    assert records.verify(market).ok
    assert any(
        p.table == "message" and p.row_id == 1 for p in records.verify(market, full=True).problems
    )
    # A chain's tail deleted with its head moved back, long after it was checkpointed.
    owner, rows = _longest(upgraded, KINDS[1])
    statements, named = _delete_tail("orderevent", owner, rows, KINDS[1])
    _sql(upgraded, *statements)
    with upgraded.read() as s:
        since = audit.last_verified(s)
        problems = audit.verify(s, since).problems
    assert since is not None
    assert (f"order_events order {owner}", named) in {(p.chain, p.row_id) for p in problems}


def test_an_append_moves_only_its_own_chains_heads(upgraded, clock):
    def heads():
        with upgraded.read() as s:
            return dict(
                ((k, o), h)
                for k, o, h in s.execute(text("SELECT kind, owner_id, last_hash FROM chain_head"))
            )

    before = heads()
    with upgraded.write() as s:
        transfer = ledger.topup(s, clock, 1, 500, "one-topup")
    after = heads()
    moved = {key for key in after if after[key] != before.get(key)}
    with upgraded.read() as s:
        accounts = {
            a
            for (a,) in s.execute(
                text("SELECT account_id FROM entry WHERE transfer_id = :t"), {"t": transfer.id}
            )
        }
    assert moved == {("ledger", a) for a in accounts} and len(accounts) == 2


def _head_read_plans(store, act) -> list[str]:
    """SQLite's plan of every read of the chain heads that `act` sends to `store`."""
    sent = []

    def grab(_conn, _cursor, statement, params, *_):
        if statement.lstrip().upper().startswith("SELECT") and "chain_head" in statement:
            sent.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        act()
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    raw = _raw(store)
    plans = [
        " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", params))
        for statement, params in sent
    ]
    raw.close()
    return plans


def test_an_append_and_a_persons_heads_look_heads_up_by_key_never_scan_them(upgraded, clock):
    # A head per account, order and conversation: a scan would read the whole market's
    # heads at every payment (72 ms of CPU a payment at 100k heads).
    def act():
        with upgraded.write() as s:
            ledger.topup(s, clock, 1, 500, "by-key")
            seen.heads(s, 1)

    plans = _head_read_plans(upgraded, act)
    assert len(plans) == 2
    assert all("SCAN chain_head" not in plan and "chain_head" in plan for plan in plans), plans


def test_heads_read_a_chunk_at_a_time_are_all_found(upgraded, clock, monkeypatch):
    # A topup touches two chains: with one head a read, a head missed by a chunk would be
    # inserted again (a duplicate key) or restart its chain (verify would name it).
    monkeypatch.setattr(chain, "HEADS_PER_READ", 1)
    for key in ("chunk-1", "chunk-2"):
        with upgraded.write() as s:
            ledger.topup(s, clock, 1, 500, key)
    assert _problems(upgraded) == []


def test_the_tick_checkpoints_at_most_every_so_often_and_backup_always(upgraded, config, tmp_path):
    clock = FixedClock(2_000_000_000)
    market = Market(upgraded, clock)
    every = market.settings.checkpoint_every

    def count():
        with upgraded.read() as s:
            return s.execute(text("SELECT count(*) FROM checkpoint")).scalar()

    market.tick()
    assert count() == 1  # heads had moved and there was no checkpoint yet
    with upgraded.write() as s:
        ledger.topup(s, clock, 1, 500, "between-ticks")
    market.tick()
    assert count() == 1  # too soon
    clock.advance(every)
    market.tick()
    assert count() == 2
    clock.advance(every)
    market.tick()
    assert count() == 2  # nothing moved
    with upgraded.write() as s:
        ledger.topup(s, clock, 1, 500, "before-a-backup")
    backups.backup(upgraded, clock, tmp_path / "copy.db")
    assert count() == 3


def test_a_v5_store_upgrades_to_chains_per_owner_with_its_history(tmp_path):
    home = _home(tmp_path)
    raw = sqlite3.connect(home / "market.db")
    assert raw.execute("SELECT version FROM schema_version").fetchone()[0] == 5
    before = {
        k.name: raw.execute(f"SELECT count(*) FROM {TABLES[k.name]}").fetchone()[0] for k in IN_V5
    }
    owners = {
        k.name: raw.execute(
            f"SELECT count(DISTINCT {k.owner or 0}) FROM {TABLES[k.name]}"
        ).fetchone()[0]
        for k in IN_V5
    }
    contents = raw.execute("SELECT id, account_id, amount FROM entry ORDER BY id").fetchall()
    raw.close()
    store = Store.open(config_mod.resolve(home=home))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.read() as s:
            report = audit.verify(s)
            assert report.ok, report.problems
            assert {k: report.rows_checked[k] for k in before} == before
            heads = dict(
                s.execute(text("SELECT kind, count(*) FROM chain_head GROUP BY kind")).all()
            )
            assert heads == owners
            after = s.execute(text("SELECT id, account_id, amount FROM entry ORDER BY id")).all()
            assert [tuple(r) for r in after] == contents
            assert s.execute(text("SELECT count(*) FROM message WHERE hash = ''")).scalar() == 0
            assert [b.reason for b in backups.list_backups(s)] == ["pre-migration-v5"]
    finally:
        store.close()


def test_a_tampered_v5_store_is_not_upgraded_and_not_changed(tmp_path):
    home = _home(tmp_path)
    raw = sqlite3.connect(home / "market.db")
    raw.execute("UPDATE orderevent SET note = 'rewritten' WHERE id = 7")
    raw.commit()
    raw.close()
    with pytest.raises(StoreFailure) as refused:
        Store.open(config_mod.resolve(home=home))
    assert refused.value.code == "store_tampered"
    assert "order_events chain is broken at orderevent #7" in refused.value.message
    raw = sqlite3.connect(home / "market.db")
    assert raw.execute("SELECT version FROM schema_version").fetchone()[0] == 5
    assert raw.execute("SELECT count(*) FROM chain_head WHERE name = 'ledger'").fetchone()[0] == 1
    raw.close()
