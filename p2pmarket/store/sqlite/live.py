"""What SQLite does its own way besides search and prices: telling a poller that someone
committed (PRAGMA data_version), loading many listings at once (the driver's executemany)
and the next ids of a table (one past its largest, under the one writer's lock)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from sqlalchemy import Connection, Engine, Select, func, select
from sqlmodel import Session, SQLModel


class DataVersion:
    """Holds one SQLite connection outside any transaction and reads `PRAGMA data_version`,
    which changes only when another connection commits."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()
        self._last = self._version()

    def _version(self) -> int | None:
        if self._raw is None:
            return None
        return self._raw.driver_connection.execute("PRAGMA data_version").fetchone()[0]

    def changed(self) -> bool:
        now = self._version()
        moved = now is None or now != self._last
        self._last = now
        return moved

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


class SqliteChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def watch(self) -> DataVersion:
        return DataVersion(self._engine)


_LISTING_INSERT = (
    "INSERT INTO listing (seller_id, kind, title, description, category, unit, price, quantity,"
    " status, condition, lat, lon, created_at, updated_at) VALUES (:seller_id, :kind, :title,"
    " :description, :category, :unit, :price, :quantity, :status, :condition, :lat, :lon,"
    " :created_at, :updated_at)"
)


class SqliteBulkLoad:
    def insert_listings(self, session: Session, rows: list[dict]) -> None:
        # The driver's executemany: the ORM's per-row parameter handling costs more than SQLite.
        session.connection().connection.dbapi_connection.executemany(_LISTING_INSERT, rows)

    def after_copy(self, session: Session) -> None:
        """SQLite's rowids follow the largest id by themselves."""


@functools.cache
def _last_ids(tables: tuple[str, ...]) -> Select:
    columns = (SQLModel.metadata.tables[name].c.id for name in tables)
    return select(*(select(func.coalesce(func.max(c), 0)).scalar_subquery() for c in columns))


class SqliteRowIds:
    """The ids SQLite itself would pick (no table is AUTOINCREMENT): one past the largest.
    Every write transaction holds the one writer's lock (BEGIN IMMEDIATE) from its start,
    so nobody else takes them before the rows are inserted."""

    def reserve(self, connection: Connection, counts: Mapping[str, int]) -> dict[str, list[int]]:
        tables = tuple(sorted(counts))
        last = connection.execute(_last_ids(tables)).one()
        return {
            name: list(range(top + 1, top + 1 + counts[name]))
            for name, top in zip(tables, last, strict=True)
        }
