"""What PostgreSQL does its own way besides search and prices: telling a poller that someone
committed (LISTEN/NOTIFY, engine.Listener), loading many listings at once (SQLAlchemy's
insert: the driver's executemany speaks another parameter style) and new ids drawn from
each table's sequence before its rows are inserted."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlmodel import Session

from p2pmarket.models import Listing
from p2pmarket.store.postgres.engine import Listener, reset_sequences


class PgChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def watch(self) -> Listener:
        return Listener(self._engine)


class PgBulkLoad:
    def insert_listings(self, session: Session, rows: list[dict]) -> None:
        session.execute(insert(Listing), rows)

    def after_copy(self, session: Session) -> None:
        reset_sequences(session.connection())


@functools.cache
def _next_ids(tables: tuple[str, ...]) -> CompoundSelect:
    """(table's place in `tables`, a new id) rows: n<place> ids of each, from its sequence
    (a serial column's, named by PostgreSQL's rule; the names are the schema's, not input)."""
    return union_all(
        *(
            select(
                literal(place), func.nextval(literal_column(f"'{name}_id_seq'::regclass"))
            ).select_from(func.generate_series(1, bindparam(f"n{place}")))
            for place, name in enumerate(tables)
        )
    )


class PgRowIds:
    """Ids from each table's own sequence, as a plain insert takes them: writers at once
    get distinct ones, and a transaction rolled back leaves a gap, never a reuse."""

    def reserve(self, connection: Connection, counts: Mapping[str, int]) -> dict[str, list[int]]:
        tables = tuple(sorted(counts))
        params = {f"n{place}": counts[name] for place, name in enumerate(tables)}
        ids: dict[str, list[int]] = {name: [] for name in tables}
        for place, new_id in connection.execute(_next_ids(tables), params):
            ids[tables[place]].append(new_id)
        return {name: sorted(got) for name, got in ids.items()}
