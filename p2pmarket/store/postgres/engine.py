"""The store on PostgreSQL: what differs from SQLite, and nothing else.

Locking. SQLite serialises writers with BEGIN IMMEDIATE: the write lock is held
from the first read, so every check-then-write in the services (is the balance
enough? is the order still paid? is this idempotency key new?) sees no other
writer in between. PostgreSQL gets the same guarantee from one transaction-scoped
advisory lock taken as the first statement of every write transaction: writers
queue on it, readers never wait (MVCC), and because each statement of a READ
COMMITTED transaction reads the latest committed data, the writer holding the lock
sees everything committed before it. Row locks alone (SELECT … FOR UPDATE on
wallets and chain heads) would leave the order state machine, spam flags and
credit sums to be locked one by one, and would deadlock when two transfers take
ESCROW and a wallet in opposite orders; SERIALIZABLE would need every write to be
retryable, which a `with store.write()` block is not. Money serialises on ESCROW
and the ledger's chain head anyway, so the single lock costs little. The chain head
and the accounts are still read FOR UPDATE (services/records, ledger.py), so a
writer that bypassed `Store.write` could not fork a chain or overdraw a wallet.

Live updates. Every committed write transaction sends NOTIFY on `CHANNEL`;
`Listener` (used by chat.Watcher) is the counterpart of SQLite's PRAGMA data_version.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

from p2pmarket.errors import StoreFailure

# Any fixed 64-bit number: the advisory lock that writers queue on.
WRITE_LOCK = 0x7032706D61726B74  # "p2pmarkt"
CHANNEL = "p2pmarket"
CONNECT_TIMEOUT_S = 10
# A writer waiting longer than this for the write lock gives up ("store busy").
LOCK_TIMEOUT_MS = 30_000


def engine(url: str, *, writer: bool) -> Engine:
    """An engine for reads or for serialised writes (see the module docstring)."""
    eng = create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    if not writer:
        return eng

    @event.listens_for(eng, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    @event.listens_for(eng, "commit")
    def _on_commit(conn: Connection) -> None:
        # Delivered only if the transaction commits; many NOTIFYs in one are folded.
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")

    return eng


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
    if "lock timeout" in detail or "deadlock detected" in detail:
        return StoreFailure(
            "store_busy",
            f"The market database at {at} is busy (another writer held it for over "
            f"{LOCK_TIMEOUT_MS // 1000} s); nothing was changed, try again in a moment.",
        )
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
