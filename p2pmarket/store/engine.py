"""The store: engines from config (never at import time), transactions, schema, migrations.

SQLite writes run under BEGIN IMMEDIATE: the write lock is taken before the
first read, so check-then-write (is the balance enough? then debit) cannot
interleave with another writer. pysqlite's own transaction handling is turned
off (isolation_level=None) and we emit BEGIN ourselves. On PostgreSQL
(`--db postgresql+psycopg://…`) many write at once: each write transaction runs on
one snapshot and locks the rows its checks stand on, and `transact` runs a unit of
work again when PostgreSQL aborted it for a conflict; see store/postgres/engine.py.

Over 500 lines: opening, guarding (the file lock restore swaps under), transacting and
copying a store are one object's life; the SQLite-only halves may move to store/sqlite/.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, select

from p2pmarket import files, models
from p2pmarket.clock import Clock, SystemClock
from p2pmarket.config import Config
from p2pmarket.errors import Invalid, StoreFailure
from p2pmarket.store import ports
from p2pmarket.store.migrations import MIGRATIONS, SCHEMA_VERSION
from p2pmarket.store.sqlite import locks

BUSY_TIMEOUT_S = 10
# A unit of work PostgreSQL aborted (serialisation failure, deadlock) runs again, at most
# this many times in all, after a random pause below a bound that doubles each time up to
# a cap ("full jitter": colliding writers spread out instead of colliding again).
# Sixteen payments from one wallet at once (one hot row) need well over ten on 2 busy cores.
TRIES = 20
RETRY_PAUSE_S = 0.005
RETRY_PAUSE_MAX_S = 0.5

T = TypeVar("T")
# How often a waiting writer asks for SQLite's write lock (see `begin_immediate`).
WRITE_POLL_S = 0.002


def _sqlite_engine(
    url: str, path: Path | None, *, immediate: bool, busy_s: float = BUSY_TIMEOUT_S
) -> Engine:
    """`path`: the store's file (None for a URI), watched for a restore (store/sqlite/locks.py)."""
    engine = create_engine(url, connect_args={"timeout": busy_s, "check_same_thread": False})

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams):
        # Under the folder's shared lock: a restore never swaps the files between the opening
        # of the store and of its -wal (journal_mode=WAL opens it), nor before we record it.
        fd = locks.folder_fd(path) if path is not None else None
        locks.shared(fd)
        try:
            dbapi_conn = dialect.connect(*cargs, **cparams)
            try:
                dbapi_conn.isolation_level = None
                for pragma in (
                    "journal_mode=WAL",
                    "foreign_keys=ON",
                    f"busy_timeout={int(busy_s * 1000)}",
                    "synchronous=FULL",
                ):
                    dbapi_conn.execute(f"PRAGMA {pragma}")
            except BaseException:
                dbapi_conn.close()  # a damaged file: closed now, so no -wal is left beside it
                raise
        except BaseException:
            if fd is not None:
                os.close(fd)  # and with it the lock
            raise
        record.info["folder_fd"] = fd
        record.info["file_id"] = locks.file_id(path) if path is not None else None
        locks.release(fd)
        return dbapi_conn

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if immediate:
            begin_immediate(conn, busy_s)
            # Held until the connection goes back to the pool, after the commit.
            locks.shared(conn.connection.info["folder_fd"])
        else:
            conn.exec_driver_sql("BEGIN")
        if path is not None and locks.file_id(path) != conn.connection.info["file_id"]:
            conn.connection.driver_connection.execute("ROLLBACK")
            locks.release(conn.connection.info["folder_fd"])
            raise locks.Replaced(path)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record) -> None:
        locks.release(record.info.get("folder_fd"))

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_conn, record) -> None:
        fd = record.info.pop("folder_fd", None)
        if fd is not None:
            os.close(fd)

    return engine


def poll_immediate(raw: sqlite3.Connection, busy_s: float) -> bool:
    """Ask for SQLite's write lock every few ms for at most `busy_s`; False if not had."""
    deadline = time.monotonic() + busy_s
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                return False
        time.sleep(WRITE_POLL_S * random.uniform(0.5, 1.5))


def begin_immediate(conn: Connection, busy_s: float) -> None:
    """BEGIN IMMEDIATE, asking for the write lock every few ms for at most `busy_s`.

    SQLite's own busy handler sleeps longer the longer a writer has waited (1, 2, 5 … then
    100 ms a try), so a writer that has waited a while loses nearly every race to newcomers:
    under 16 writers the slowest waited 28 s of a 30 s timeout. Asking at one short, jittered
    interval gives every waiter the same chance at each release (`p2pmarket bench writers`).
    The lock still belongs to SQLite, so writers outside p2pmarket are excluded as before.
    """
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        if poll_immediate(raw, busy_s):
            return
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
        from p2pmarket.store.sqlite.live import SqliteBulkLoad, SqliteChangeFeed, SqliteRowIds
        from p2pmarket.store.sqlite.prices import SqlitePricePoints
        from p2pmarket.store.sqlite.search import SqliteSearchIndex

        return ports.Ports(
            search=SqliteSearchIndex(),
            prices=SqlitePricePoints(),
            changes=SqliteChangeFeed(engine),
            bulk=SqliteBulkLoad(),
            ids=SqliteRowIds(),
            backups=True,
        )
    from p2pmarket.store.postgres.live import PgBulkLoad, PgChangeFeed, PgRowIds
    from p2pmarket.store.postgres.prices import PgPricePoints
    from p2pmarket.store.postgres.search import PgSearchIndex

    return ports.Ports(
        search=PgSearchIndex(),
        prices=PgPricePoints(),
        changes=PgChangeFeed(engine),
        bulk=PgBulkLoad(),
        ids=PgRowIds(),
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


def _plain_path(config: Config) -> Path | None:
    """The store's file when the URL names one plainly (a `file:…?mode=ro` URI is not watched)."""
    path = config.sqlite_path
    if path is None or str(path).startswith("file:") or str(path) == ":memory:" or not str(path):
        return None
    return path


def _create_empty(path: Path) -> None:
    """A new store file appears whole: made aside, then linked into place (never clobbering
    one made meanwhile), so a 0-byte file at the path is never a store being born."""
    fresh = path.with_name(f".{path.name}.new-{os.getpid()}-{time.monotonic_ns()}")
    try:
        raw = sqlite3.connect(fresh)
        try:
            raw.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
        files.private(fresh)  # SQLite gives its -wal and -shm the store's mode
        with suppress(FileExistsError):
            os.link(fresh, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fresh}{suffix}").unlink(missing_ok=True)


def _refuse_unusable_file(path: Path, config: Config) -> None:
    """A 0-byte or non-SQLite file at the store's path is never turned into an empty market."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0 or not locks.is_sqlite(path):
        what = "an empty file (0 bytes)" if size == 0 else "not a SQLite database"
        raise StoreFailure(
            "store_corrupt",
            f"{path} is {what}, not a readable p2pmarket store; nothing was changed. Restore a "
            f"backup with `p2pmarket restore {config.backup_dir}/<file>`.",
        )


class Store:
    """A market store. `write()` and `read()` hand out sessions; nothing else opens one."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # What every write session carries in `session.info` (the market's signers: Market.open).
        self.write_info: dict[str, object] = {}
        if config.is_sqlite:
            busy_s = config.settings.busy_timeout_s
            path = _plain_path(config)
            self._writer = _sqlite_engine(config.db_url, path, immediate=True, busy_s=busy_s)
            self._reader = _sqlite_engine(config.db_url, path, immediate=False, busy_s=busy_s)
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
        path = _plain_path(config)
        if path is not None:
            try:
                files.private_dir(path.parent)
            except OSError as exc:
                raise StoreFailure(
                    "home_unusable", f"Cannot create the market home {config.home}: {exc.strerror}."
                ) from exc
            _refuse_unusable_file(path, config)
            files.private(path)  # a store made before it was its owner's alone
            if not path.exists():
                try:
                    _create_empty(path)
                except (OSError, sqlite3.Error) as exc:
                    raise explain(exc, config) from exc
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
                session.info.update(self.write_info)
                yield session
        except locks.Replaced:
            # Drops the old file's connections; the next session opens the restored one.
            self.close()
            raise
        except OperationalError as exc:
            raise explain(exc, self.config) from exc
        except IntegrityError as exc:
            if self.config.is_sqlite:
                raise
            # PostgreSQL: another writer inserted the same unique key after this one's
            # snapshot; `transact` runs the unit again, and it then sees the other's row.
            raise explain(exc, self.config) from exc
        except OverflowError as exc:
            raise _too_large() from exc

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction; its result once committed.

        On PostgreSQL a transaction aborted for a conflict with another writer changed nothing,
        so the whole of `work` (reads, checks and writes) runs again, up to `TRIES` times,
        then gives up with "busy". `work` must not act outside the store before it
        returns. SQLite's single writer never aborts one: there it runs once.
        """
        from p2pmarket.store.postgres import engine as db_pg

        attempt = 1
        while True:
            turn = db_pg.queued(self._writer) if attempt > db_pg.QUEUE_AFTER else nullcontext()
            try:
                with turn, self.write() as session:
                    return work(session)
            except StoreFailure as failure:
                # explain() has already made the last collision the "busy" sentence.
                if attempt == TRIES or not db_pg.retryable(failure.__cause__):
                    raise
            time.sleep(random.uniform(0, min(RETRY_PAUSE_MAX_S, RETRY_PAUSE_S * 2**attempt)))
            attempt += 1

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with Session(self._reader, expire_on_commit=False) as session:
                yield session
        except locks.Replaced:
            # Drops the old file's connections; the next session opens the restored one.
            self.close()
            raise
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
            with self._schema_change() as conn:
                # Holding the schema lock: another process may have created it meanwhile.
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
        with self._schema_change() as conn:
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

    @contextmanager
    def _schema_change(self) -> Iterator[Connection]:
        """A transaction creating or changing tables: one process at a time."""
        if self.config.is_sqlite:
            with self._writer.begin() as conn:
                yield conn
            return
        from p2pmarket.store.postgres import engine as db_pg

        with db_pg.schema_change(self._writer) as conn:
            yield conn

    def _install_derived(self) -> None:
        """Derived search indexes (FTS5 or PostgreSQL's): created once, rebuilt by `reindex`."""
        if self.config.is_sqlite:
            from p2pmarket.store.sqlite import search_index
        else:
            from p2pmarket.store.postgres import search_index

        with self._reader.connect() as conn:
            if search_index.installed(conn):
                return
        with self._schema_change() as conn:
            search_index.install(conn)

    def auto_backup_path(self, reason: str, clock: Clock | None = None) -> Path:
        # A migration runs while the store opens, before anyone hands it a clock: the system's.
        stamp = (clock or SystemClock()).now()
        return self.config.backup_dir / f"market-{stamp}-{reason}.db"

    def backup(self, dest: Path) -> Path:
        """Copy the store with SQLite's online backup API (safe while others write) into
        `dest`, a single file (rollback journal, no -wal) fsynced to disk."""
        if not self.config.is_sqlite:
            raise StoreFailure(
                "backup_unsupported",
                "Backups here are for SQLite stores; back up a PostgreSQL market with "
                "pg_dump (its chains travel with it and `p2pmarket verify` checks them).",
            )
        dest = Path(dest)
        files.private_dir(dest.parent)
        raw = self._reader.raw_connection()
        try:
            target = sqlite3.connect(dest)
            try:
                raw.driver_connection.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            raw.close()
        _fsync(dest)
        return dest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def integrity_problems(session: Session) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` finds in the store's pages, b-trees and indexes
    ([] when sound; PostgreSQL checks its pages itself, so [] there)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    try:
        rows = session.connection().exec_driver_sql("PRAGMA integrity_check").all()
    except DBAPIError as exc:  # a page too broken for the check to walk
        return [str(exc.orig)]
    return [] if [r[0] for r in rows] == ["ok"] else [str(r[0]) for r in rows]


def check_file(path: Path) -> list[str]:
    """What is wrong with a store file (a backup), opened read-only: its pages fail SQLite's
    quick_check, or it is no p2pmarket store of this version. [] when sound.

    quick_check walks every page and b-tree as integrity_check does but skips matching each
    index against its table: 0.2-0.4 s against 1.4 s on a 100k-listing store (45 MB), and
    the daily backup runs on a person's first command of the day. `verify` runs the full one.
    """
    try:
        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = [r[0] for r in raw.execute("PRAGMA quick_check")]
        if rows != ["ok"]:
            return [str(r) for r in rows]
        version = raw.execute("SELECT version FROM schema_version").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            return [f"schema version {version and version[0]}, not {SCHEMA_VERSION}"]
        return []
    except sqlite3.Error as exc:
        return [str(exc)]
    finally:
        raw.close()


def swap_in(config: Config, incoming: Path, aside: Path) -> Path | None:
    """Put `incoming` (a store file in the live file's folder) in place of the live store,
    moving the live file with its -wal and -shm to `aside` as they are (renamed, never read
    through SQLite: it may be corrupt, truncated, empty or missing). Returns `aside`, or
    None when there was no live file. Holds SQLite's write lock on the live file (when it
    is a SQLite file) and the folder's exclusive lock meanwhile (see store/sqlite/locks.py):
    every write that was acknowledged is in one of the two files, and a later write through
    an old connection is refused with a sentence. Past the busy timeout: store_busy."""
    live = config.sqlite_path
    busy_s = config.settings.busy_timeout_s
    busy = StoreFailure(
        "store_busy",
        f"Other p2pmarkets kept writing to {live} for over {busy_s:g} s; nothing was "
        "restored, try again in a moment.",
    )
    try:
        holder = _write_lock_on(live, busy_s)
    except sqlite3.OperationalError:
        raise busy from None
    try:
        with locks.exclusive(live, time.monotonic() + busy_s) as had:
            if not had:
                raise busy
            moved = [s for s in ("-wal", "-shm", "") if Path(f"{live}{s}").exists()]
            for suffix in moved:
                os.rename(f"{live}{suffix}", f"{aside}{suffix}")
            os.replace(incoming, live)
            _fsync(live.parent)
            return aside if moved else None
    finally:
        if holder is not None:
            holder.close()


def _write_lock_on(path: Path, busy_s: float) -> sqlite3.Connection | None:
    """A connection holding SQLite's write lock on `path`; None when the file is missing or
    not readable as a database (no p2pmarket can write to it then either)."""
    if not locks.is_sqlite(path):
        return None
    raw = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        if not poll_immediate(raw, busy_s):
            raw.execute("BEGIN IMMEDIATE")  # once more, to see why it stopped
        return raw
    except sqlite3.DatabaseError as exc:
        raw.close()
        if _busy(exc):
            raise
        return None


def _busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)
