import sqlite3

import pytest
from sqlalchemy import text

from p2pmarket.errors import StoreFailure
from p2pmarket.store.engine import Store
from p2pmarket.store.migrations import SCHEMA_VERSION


@pytest.mark.sqlite_only
def test_new_store_has_schema_version_and_pragmas(store):
    assert store.schema_version() == SCHEMA_VERSION
    with store.read() as session:
        conn = session.connection()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


@pytest.mark.sqlite_only
def test_a_writer_waits_its_turn_then_writes_with_its_busy_timeout_back(store, clock):
    """begin_immediate asks for the lock while another writer holds it, then gets it."""
    import threading

    from tests.conftest import make_user

    holder = sqlite3.connect(
        store.config.sqlite_path, isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.2, holder.execute, ("ROLLBACK",)).start()
    make_user(store, clock, "alice")  # waits for the holder's rollback, then writes
    holder.close()
    with store.write() as session:
        timeout = session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert timeout == int(store.config.settings.busy_timeout_s * 1000)
        assert session.execute(text('SELECT handle FROM "user"')).scalar() == "alice"


def test_write_rolls_back_on_error(store, clock):
    from tests.conftest import make_user

    make_user(store, clock, "alice")
    with pytest.raises(RuntimeError), store.write() as session:
        session.execute(text("UPDATE \"user\" SET real_name = 'changed'"))
        raise RuntimeError("boom")
    with store.read() as session:
        assert session.execute(text('SELECT real_name FROM "user"')).scalar() == "Alice"


def test_newer_schema_is_refused(store, config):
    with store.write() as session:
        session.execute(text("UPDATE schema_version SET version = 999"))
    store.close()
    with pytest.raises(StoreFailure) as info:
        Store.open(config)
    assert info.value.code == "store_too_new"


@pytest.mark.sqlite_only
def test_garbage_file_is_explained(config):
    config.home.mkdir(parents=True)
    config.sqlite_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreFailure) as info:
        Store.open(config)
    assert info.value.code == "store_corrupt"
    assert "p2pmarket restore" in info.value.message


@pytest.mark.sqlite_only
def test_older_schema_is_migrated_after_a_backup(store, config, monkeypatch):
    from p2pmarket.store import engine as db

    with store.write() as session:
        session.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION})
    store.close()
    ran = []
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, SCHEMA_VERSION + 1, lambda conn: ran.append(conn))
    migrated = Store.open(config)
    assert migrated.schema_version() == SCHEMA_VERSION + 1
    assert len(ran) == 1
    backups = list(config.backup_dir.glob("*pre-migration*"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    old.close()
    migrated.close()


def test_every_table_builds_its_validator_only_if_one_is_asked_for():
    # Rows are never validated from input: pydantic's 37 validators cost a quarter of the
    # tables' import, so none is built when models.py loads (in a fresh process).
    import subprocess
    import sys

    code = (
        "from sqlmodel import SQLModel\n"
        "import p2pmarket.models as models\n"
        "tables = [c for c in vars(models).values() if getattr(c, '__table__', None) is not None]\n"
        "print(len(tables) == len(SQLModel.metadata.tables),"
        " any(c.__pydantic_complete__ for c in tables))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.sqlite_only
def test_a_second_store_opened_in_the_process_keeps_the_first_ones_writes_shared(
    store, config, clock
):
    """`demo --open`: the command's store stays open while the app opens its own. Opening it
    again must not drop the first one's locks on the file: another process closing the
    store would think itself the last one and delete the -wal the first goes on writing to."""
    import subprocess
    import sys

    from tests.conftest import make_user

    make_user(store, clock, "alice")
    with store.read() as session:  # its connection open, as a running app's
        session.execute(text('SELECT count(*) FROM "user"')).scalar()
    second = Store.open(config)
    count = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM \"user\"').fetchone()[0]); c.close()"
    )
    path = str(config.sqlite_path)

    def seen_by_another_process() -> str:
        run = subprocess.run([sys.executable, "-c", count, path], capture_output=True, text=True)
        return run.stdout.strip()

    assert seen_by_another_process() == "1"
    make_user(store, clock, "bob")  # written after the other process closed the store
    assert seen_by_another_process() == "2"
    second.close()
