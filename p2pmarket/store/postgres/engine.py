"""The store on PostgreSQL: what differs from SQLite, and nothing else.

Writing. SQLite serialises writers with BEGIN IMMEDIATE, so every check-then-write in
the services (is the balance enough? is the order still paid? is this idempotency key
new?) sees no other writer in between. PostgreSQL lets many people write at once
instead, and takes no market-wide lock: a write transaction runs REPEATABLE READ (one
snapshot) and locks the rows its checks stand on. Every check that guards money or a
record stands on a row the transaction also writes or reads FOR UPDATE: the wallet
(accounts FOR UPDATE), the order (its status is updated), the listing's stock (one
guarded UPDATE), the chain heads it appends to (FOR UPDATE), the person acting (their
row FOR NO KEY UPDATE: one person's writes queue, so their limits hold), and what must
be unique is unique in the database (idempotency keys, booked slot blocks, chain
heads). When a row it locks or updates was changed by a writer that committed after
its snapshot, PostgreSQL aborts it (40001); a deadlock aborts one side (40P01); an
insert racing another's insert of the same unique key fails (23505). In each case
nothing was written and `Store.transact` runs the whole unit of work again on a new
snapshot (`RETRIES`), which then sees the other's row and decides as a serial run
would. Transactions touching disjoint rows (a chat line and a payment, payments
between different people, whose escrow is held per order) never wait for each other.

Not SERIALIZABLE: PostgreSQL's serialisable snapshots track reads with predicate locks
at btree page granularity, and every payment appends to the same right-hand index
pages (new entries, events, escrow accounts): measured with 16 clients paying distinct
sellers, most payments were aborted at least once for conflicts that were not there
(`bench pg`, README), and payments/s fell below the old one-lock mode.

Schema changes (creating tables, migrations, the search index) are the one place
writers still queue on an advisory lock (`schema_lock`): two processes opening a new
store at once must not both create it.

Live updates. Every committed write transaction sends NOTIFY on `CHANNEL`;
`Listener` (used by chat.Watcher) is the counterpart of SQLite's PRAGMA data_version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

from p2pmarket.errors import StoreFailure

# Any fixed 64-bit number: the advisory lock schema changes queue on.
SCHEMA_LOCK = 0x7032706D61726B74  # "p2pmarkt"
# Serialisation failure, deadlock, and a unique key another writer inserted meanwhile:
# the transaction changed nothing; run it again (a new snapshot sees the other's row).
RETRYABLE = frozenset({"40001", "40P01", "23505"})
# A unit of work aborted this many times stops racing: it waits its turn behind the others
# that did, one at a time, and its snapshot starts once its turn has come (`queued`).
QUEUE_AFTER = 3
QUEUE_LOCK = 0x7032706D71756575  # "p2pmqueu"
CHANNEL = "p2pmarket"
# psycopg logs "error ignored terminating <Pipeline>: pipeline aborted" when a statement
# in a batch fails (a slot already claimed, a unique key raced): the failure itself comes
# back as the exception the services turn into one sentence; without a handler Python
# would print the log line on stderr before it.
logging.getLogger("psycopg").addHandler(logging.NullHandler())
CONNECT_TIMEOUT_S = 10
# A writer waiting longer than this for a row lock gives up ("store busy").
LOCK_TIMEOUT_MS = 30_000


def engine(url: str, *, writer: bool) -> Engine:
    """An engine for reads or for writes (see the module docstring); both see one snapshot."""
    eng = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        # A read is one snapshot, as SQLite's deferred BEGIN gives: `verify` reading the
        # checkpoints, then their heads, must not see a checkpoint committed in between.
        isolation_level="REPEATABLE READ",
    )
    if not writer:
        return eng

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Once per connection, not per transaction (a round trip saved on every write).
        dbapi_conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
        dbapi_conn.commit()

    @event.listens_for(eng, "commit")
    def _on_commit(conn: Connection) -> None:
        # Delivered only if the transaction commits; many NOTIFYs in one are folded.
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")

    return eng


@contextmanager
def schema_change(eng: Engine) -> Iterator[Connection]:
    """A transaction changing the schema, behind any other process doing the same.

    READ COMMITTED: once the lock is ours, its reads see what the holder before us made.
    """
    with eng.execution_options(isolation_level="READ COMMITTED").begin() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        yield conn


@contextmanager
def queued(eng: Engine) -> Iterator[None]:
    """Wait for the turn of a unit of work that kept colliding (one hot row: sixteen
    payments from one wallet). The turn is a session lock held on a connection of its
    own, outside the unit's transaction, so the unit's snapshot is taken after it."""
    raw = eng.raw_connection()
    conn = raw.driver_connection
    try:
        conn.rollback()
        conn.autocommit = True
        # The turn may take longer than a row lock may (the writer's connections bound
        # those): this connection waits for it as long as it takes.
        conn.execute("SET lock_timeout = 0")
        conn.execute(f"SELECT pg_advisory_lock({QUEUE_LOCK})")
        try:
            yield
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({QUEUE_LOCK})")
            conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
    finally:
        conn.autocommit = False
        raw.close()


def retryable(exc: BaseException) -> bool:
    """True for a failure that wrote nothing and may pass on a new snapshot (`RETRYABLE`)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE


def busy() -> StoreFailure:
    """A write that kept colliding with others (or waited on a row past `LOCK_TIMEOUT_MS`)."""
    return StoreFailure("store_busy", "The market's store is busy; try again.")


def where(url: str) -> str:
    """The database a URL points to, for messages (never the password)."""
    u = make_url(url)
    return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database}"


def explain(detail: str, url: str) -> StoreFailure | None:
    """A sentence for a psycopg error message (lowercased), or None if it isn't one we know."""
    at = where(url)
    if (
        "connection refused" in detail
        or "could not translate host" in detail
        or ("timeout expired" in detail and "connection" in detail)
    ):
        return StoreFailure(
            "store_unreachable",
            f"Can't reach the database at {at}: is PostgreSQL running there and the "
            "address in --db / P2PMARKET_DB right? Nothing was changed.",
        )
    if "password authentication failed" in detail or "no pg_hba.conf entry" in detail:
        return StoreFailure(
            "store_denied",
            f"The database at {at} refused the login; check the user and password in "
            "--db / P2PMARKET_DB.",
        )
    if "does not exist" in detail and "database" in detail:
        return StoreFailure(
            "store_missing",
            f"There is no database {make_url(url).database!r} at {at}; create it first "
            "(createdb), p2pmarket then creates its tables.",
        )
    if any(
        cause in detail for cause in ("lock timeout", "deadlock detected", "could not serialize")
    ):
        return busy()
    if "permission denied to create extension" in detail:
        return StoreFailure(
            "store_extensions",
            f"Search on PostgreSQL needs the extensions pg_trgm, cube and earthdistance in "
            f"{at}; ask its administrator to run `CREATE EXTENSION earthdistance CASCADE; "
            "CREATE EXTENSION pg_trgm;` there (or in template1).",
        )
    if "read-only transaction" in detail or "permission denied" in detail:
        return StoreFailure(
            "store_read_only",
            f"The database at {at} does not let this user write; nothing was changed. "
            "Grant the user write access or use another --db.",
        )
    if "no space left" in detail or "could not extend file" in detail:
        return StoreFailure(
            "store_full",
            f"The disk of the database at {at} is full; nothing was changed.",
        )
    if "server closed the connection" in detail or "terminating connection" in detail:
        return StoreFailure(
            "store_unreachable",
            f"The database at {at} closed the connection; nothing was committed. Try again.",
        )
    return None


def reset_sequences(conn: Connection) -> None:
    """Point every serial id past the largest id in its table.

    Chained rows and copied rows carry their ids explicitly, which leaves the
    sequences behind; the next plain insert would then collide.
    """
    rows = conn.execute(
        text(
            "SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname)"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
            " AND a.attnum > 0 AND NOT a.attisdropped"
            " AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL"
        )
    ).all()
    for table, column, sequence in rows:
        conn.execute(
            text(
                f'SELECT setval(:seq, coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1,'
                " false)"
            ),
            {"seq": sequence},
        )


class Listener:
    """Wakes a poller when any write transaction committed: LISTEN on its own connection."""

    def __init__(self, eng: Engine) -> None:
        raw = eng.raw_connection()
        conn = raw.driver_connection
        # Out of the pool for good: LISTEN lives as long as this connection.
        raw.detach()
        self._raw = raw
        conn.rollback()
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn

    def changed(self) -> bool:
        """True if a NOTIFY arrived since the last call (never blocks)."""
        if self._conn is None:
            return True
        return len(list(self._conn.notifies(timeout=0))) > 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
