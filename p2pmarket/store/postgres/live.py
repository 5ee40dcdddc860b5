"""What PostgreSQL does its own way besides search and prices: telling a poller that someone
committed (LISTEN/NOTIFY, engine.Listener) and loading many listings at once (SQLAlchemy's
insert: the driver's executemany speaks another parameter style)."""

from __future__ import annotations

from sqlalchemy import Engine, insert
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
