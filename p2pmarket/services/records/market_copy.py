"""Copy a whole market from one store to another (`p2pmarket migrate`), chains intact.

Tables go in dependency order with their ids, hashes and chain heads as they are,
so `verify` on the target walks the very same chains. The target must be a new,
empty store; its sequences are moved past the copied ids and its derived search
data is rebuilt from the copied listings (derived data never travels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import SQLModel

from p2pmarket.errors import Refused
from p2pmarket.services.records import audit
from p2pmarket.store import ports
from p2pmarket.store.engine import Store

BATCH = 5_000
# The store's own bookkeeping stays with each store: its schema version, and a log of
# backup files that live next to the source.
SKIP = {"schema_version", "backup_log"}

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class CopyReport:
    rows: dict[str, int]
    indexed: int
    verify: audit.VerifyReport

    def to_json(self) -> dict:
        return {"rows": self.rows, "indexed": self.indexed, "verify": self.verify.to_json()}


def copy_market(source: Store, target: Store, progress: Progress | None = None) -> CopyReport:
    """Copy every table of `source` into the empty `target`, then verify the target."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in SKIP]
    with target.read() as session:
        for table in tables:
            if session.execute(select(func.count()).select_from(table)).scalar_one():
                raise Refused(
                    "migrate_target_not_empty",
                    f"The target market already holds {table.name} rows; migrate into a new, "
                    "empty database so nothing is mixed or overwritten.",
                )
    copied: dict[str, int] = {}
    with source.read() as src, target.write() as dst:
        for table in tables:
            order = list(table.primary_key.columns)
            done = 0
            result = src.execute(select(table).order_by(*order)).yield_per(BATCH)
            for batch in result.partitions():
                dst.execute(table.insert(), [dict(row._mapping) for row in batch])
                done += len(batch)
                if progress:
                    progress(table.name, done)
            copied[table.name] = done
        _after_copy(dst)
        indexed = _rebuild_search(dst)
    with target.read() as session:
        report = audit.verify(session)
    return CopyReport(rows=copied, indexed=indexed, verify=report)


def _after_copy(session) -> None:
    ports.of(session).bulk.after_copy(session)


def _rebuild_search(session) -> int:
    from p2pmarket.services.market import search

    return search.rebuild(session)
