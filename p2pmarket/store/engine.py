"""The store: engines from config (never at import time), transactions, schema, migrations.

SQLite writes run under BEGIN IMMEDIATE: the write lock is taken before the
first read, so check-then-write (is the balance enough? then debit) cannot
interleave with another writer. pysqlite's own transaction handling is turned
off (isolation_level=None) and we emit BEGIN ourselves. On PostgreSQL
(`--db postgresql+psycopg://…`) the same guarantee comes from an advisory lock
taken at the start of every write transaction; see store/postgres/engine.py.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel, select

from p2pmarket import models
from p2pmarket.clock import Clock, SystemClock
from p2pmarket.config import Config
from p2pmarket.errors import Invalid, StoreFailure
from p2pmarket.store import ports
from p2pmarket.store.migrations import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_S = 10
# How often a waiting writer asks for SQLite's write lock (see `begin_immediate`).
WRITE_POLL_S = 0.002


def _sqlite_engine(url: str, *, immediate: bool, busy_s: float = BUSY_TIMEOUT_S) -> Engine:
    engine = create_engine(url, connect_args={"timeout": busy_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if immediate:
            begin_immediate(conn, busy_s)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def begin_immediate(conn: Connection, busy_s: float) -> None:
    """BEGIN IMMEDIATE, asking for the write lock every few ms for at most `busy_s`.

    SQLite's own busy handler sleeps longer the longer a writer has waited (1, 2, 5 … then
    100 ms a try), so a writer that has waited a while loses nearly every race to newcomers:
    under 16 writers the slowest waited 28 s of a 30 s timeout. Asking at one short, jittered
    interval gives every waiter the same chance at each release (`p2pmarket bench writers`).
    The lock still belongs to SQLite, so writers outside p2pmarket are excluded as before.
    """
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + busy_s
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() >= deadline:
                    break
            time.sleep(WRITE_POLL_S * random.uniform(0.5, 1.5))
        # Past the deadline (or another error): once more through SQLAlchemy, so the failure
        # arrives as the OperationalError that `explain` turns into a sentence.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")


def _folder_trouble(folder: Path) -> str | None:
    """'read-only' or 'full' when the store's folder is one of those (even for root)."""
    try:
        if folder.is_dir() and not os.access(folder, os.W_OK):
            return "read-only"
        if shutil.disk_usage(folder).free < 64 * 1024:
            return "full"
    except OSError:
        return None
    return None


def explain(exc: Exception, config: Config) -> StoreFailure:
    """Turn a driver error into a sentence a person can act on."""
    detail = str(getattr(exc, "orig", exc)).lower()
    if not config.is_sqlite:
        from p2pmarket.store.postgres import engine as db_pg

        known = db_pg.explain(detail, config.db_url)
        if known is not None:
            return known
        return StoreFailure("store_error", f"The market database failed: {detail}.")
    where = config.sqlite_path or config.db_url
    if ("unable to open" in detail or "disk i/o" in detail) and config.sqlite_path is not None:
        # SQLite says only "unable to open" or "disk I/O error" when it cannot create the
        # -wal/-shm files next to the store: the folder tells which of the two it is.
        detail = _folder_trouble(config.sqlite_path.parent) or detail
    if "locked" in detail or "busy" in detail:
        return StoreFailure(
            "store_busy",
            f"The market store is busy (another p2pmarket is writing for over "
            f"{config.settings.busy_timeout_s:g} s); nothing was changed, try again in a moment.",
        )
    if "readonly" in detail or "read-only" in detail:
        return StoreFailure(
            "store_read_only",
            f"The market store {where} is read-only; nothing was changed. "
            "Make the folder writable or pass --home DIR.",
        )
    if "full" in detail:
        return StoreFailure(
            "store_full",
            f"The disk holding {where} is full; nothing was changed. Free some space and retry.",
        )
    if "not a database" in detail or "malformed" in detail or "corrupt" in detail:
        return StoreFailure(
            "store_corrupt",
            f"{where} is not a readable p2pmarket store. Restore a backup with "
            f"`p2pmarket restore {config.backup_dir}/<file>`.",
        )
    if "unable to open" in detail:
        return StoreFailure("store_unreachable", f"Cannot open the market store {where}: {detail}.")
    return StoreFailure("store_error", f"The market store failed: {detail}.")


def _ports(config: Config, engine: Engine) -> ports.Ports:
    """The dialect's adapters, chosen once per store (see store/ports.py)."""
    if config.is_sqlite:
        from p2pmarket.store.sqlite.live import SqliteBulkLoad, SqliteChangeFeed
        from p2pmarket.store.sqlite.prices import SqlitePricePoints
        from p2pmarket.store.sqlite.search import SqliteSearchIndex

        return ports.Ports(
            search=SqliteSearchIndex(),
            prices=SqlitePricePoints(),
            changes=SqliteChangeFeed(engine),
            bulk=SqliteBulkLoad(),
            backups=True,
        )
    from p2pmarket.store.postgres.live import PgBulkLoad, PgChangeFeed
    from p2pmarket.store.postgres.prices import PgPricePoints
    from p2pmarket.store.postgres.search import PgSearchIndex

    return ports.Ports(
        search=PgSearchIndex(),
        prices=PgPricePoints(),
        changes=PgChangeFeed(engine),
        bulk=PgBulkLoad(),
        backups=False,
    )


def _too_large() -> Invalid:
    # SQLite integers are 64-bit: an id or offset beyond that names no row, and the driver
    # refuses to bind it. Rolled back like any other refusal.
    return Invalid(
        "number_too_large",
        f"A number given is larger than any id or count in the store (at most {2**63 - 1:,}); "
        "nothing was changed.",
    )


class Store:
    """A market store. `write()` and `read()` hand out sessions; nothing else opens one."""

    def __init__(self, config: Config) -> None:
        self.config = config
        if config.is_sqlite:
            busy_s = config.settings.busy_timeout_s
            self._writer = _sqlite_engine(config.db_url, immediate=True, busy_s=busy_s)
            self._reader = _sqlite_engine(config.db_url, immediate=False, busy_s=busy_s)
        else:
            from p2pmarket.store.postgres import engine as db_pg

            self._writer = db_pg.engine(config.db_url, writer=True)
            self._reader = db_pg.engine(config.db_url, writer=False)
        self.ports = _ports(config, self._writer)
        ports.attach(self._writer, self.ports)
        ports.attach(self._reader, self.ports)

    @classmethod
    def open(cls, config: Config) -> Store:
        """Open (creating if new) and bring the schema up to date."""
        if config.sqlite_path is not None:
            try:
                config.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreFailure(
                    "home_unusable", f"Cannot create the market home {config.home}: {exc.strerror}."
                ) from exc
        store = cls(config)
        try:
            store._migrate()
            store._install_derived()
        except DBAPIError as exc:
            store.close()
            raise explain(exc, config) from exc
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._writer.dispose()
        self._reader.dispose()

    @property
    def engine(self) -> Engine:
        return self._writer

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commits on success, rolls back on any error."""
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except OperationalError as exc:
            raise explain(exc, self.config) from exc
        except OverflowError as exc:
            raise _too_large() from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with Session(self._reader, expire_on_commit=False) as session:
                yield session
        except OperationalError as exc:
            raise explain(exc, self.config) from exc
        except OverflowError as exc:
            raise _too_large() from exc

    @staticmethod
    def wipe(config: Config, clock: Clock | None = None) -> Path | None:
        """Start over: back the SQLite store up, then delete it. Returns the backup, stamped
        by `clock` (the market's; the system's when none is given)."""
        path = config.sqlite_path
        if path is None:
            raise StoreFailure(
                "reset_unsupported",
                "Reset is for SQLite stores; on PostgreSQL drop and recreate the database.",
            )
        if not path.exists():
            return None
        store = Store.open(config)
        try:
            backup = store.backup(store.auto_backup_path("pre-reset", clock))
        finally:
            store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return backup

    def schema_version(self) -> int | None:
        with self.read() as session:
            if not inspect(session.connection()).has_table("schema_version"):
                return None
            row = session.exec(select(models.SchemaVersion)).first()
            return row.version if row else None

    def _migrate(self) -> None:
        version = self.schema_version()
        if version is None:
            with self.read() as session:
                tables = inspect(session.connection()).get_table_names()
            if tables:
                raise StoreFailure(
                    "store_foreign",
                    f"{self.config.db_url} holds tables but no p2pmarket schema version; "
                    "refusing to touch it.",
                )
            with self._writer.begin() as conn:
                # Holding the write lock: another process may have created it meanwhile.
                if inspect(conn).has_table("schema_version"):
                    return
                SQLModel.metadata.create_all(conn)
                conn.execute(
                    text("INSERT INTO schema_version (id, version) VALUES (1, :v)"),
                    {"v": SCHEMA_VERSION},
                )
            return
        if version > SCHEMA_VERSION:
            raise StoreFailure(
                "store_too_new",
                f"This store has schema version {version}, newer than this p2pmarket "
                f"({SCHEMA_VERSION}). Upgrade p2pmarket; nothing was changed.",
            )
        if version == SCHEMA_VERSION:
            return
        backup = None
        if self.config.is_sqlite:
            backup = self.backup(self.auto_backup_path(f"pre-migration-v{version}"))
        with self._writer.begin() as conn:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
            SQLModel.metadata.create_all(conn)
            conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION})
            if backup is not None:
                conn.execute(
                    insert(models.BackupLog).values(
                        path=str(backup),
                        reason=f"pre-migration-v{version}",
                        at=int(backup.stat().st_mtime),
                        size_bytes=backup.stat().st_size,
                    )
                )

    def _install_derived(self) -> None:
        """Derived search indexes (FTS5 or PostgreSQL's): created once, rebuilt by `reindex`."""
        if self.config.is_sqlite:
            from p2pmarket.store.sqlite import search_index
        else:
            from p2pmarket.store.postgres import search_index

        with self._reader.connect() as conn:
            if search_index.installed(conn):
                return
        with self._writer.begin() as conn:
            search_index.install(conn)

    def auto_backup_path(self, reason: str, clock: Clock | None = None) -> Path:
        # A migration runs while the store opens, before anyone hands it a clock: the system's.
        stamp = (clock or SystemClock()).now()
        return self.config.backup_dir / f"market-{stamp}-{reason}.db"

    def backup(self, dest: Path) -> Path:
        """Copy the store with SQLite's online backup API (safe while others write)."""
        if not self.config.is_sqlite:
            raise StoreFailure(
                "backup_unsupported",
                "Backups here are for SQLite stores; back up a PostgreSQL market with "
                "pg_dump (its chains travel with it and `p2pmarket verify` checks them).",
            )
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        raw = self._reader.raw_connection()
        try:
            target = sqlite3.connect(dest)
            try:
                raw.driver_connection.backup(target)
            finally:
                target.close()
        finally:
            raw.close()
        return dest
