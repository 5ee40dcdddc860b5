"""Backups: a copy on demand, one a day on first use, and restore (the live file kept aside)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from p2pmarket import files
from p2pmarket.clock import Clock
from p2pmarket.config import Config
from p2pmarket.errors import Invalid, Refused, StoreFailure
from p2pmarket.models import (
    BackupLog,
    Meta,
    User,
)
from p2pmarket.services.records import chain
from p2pmarket.services.records.audit import VerifyReport, verify
from p2pmarket.store.engine import Store

DAILY_KEY = "last_daily_backup"
# A sanity cap on files a person names: far above any real market, far below a disk.
BACKUP_MAX_BYTES = 64 * 1024 * files.MIB


@dataclass(frozen=True)
class BackupView:
    path: str
    reason: str
    at: int
    size_bytes: int

    def to_json(self) -> dict:
        return asdict(self)


def backup(
    store: Store, clock: Clock, dest: Path | None = None, reason: str = "manual"
) -> BackupView:
    """Checkpoint the chain heads, copy the store with SQLite's online backup API, log it.

    The checkpoint goes into the copy too: a store restored from it still knows how long
    every chain was, so rows deleted from its tail later show in `verify`.
    """
    at = clock.now()
    dest = Path(dest) if dest else store.config.backup_dir / f"market-{_stamp(at)}-{reason}.db"
    if dest.exists():
        raise Invalid("backup_exists", f"{dest} exists already; choose another path.")
    with store.write() as session:
        chain.checkpoint(session, clock)
    try:
        store.backup(dest)
    except OSError as exc:
        raise StoreFailure(
            "backup_failed", f"Cannot write the backup {dest}: {exc.strerror}."
        ) from exc
    row = BackupLog(path=str(dest), reason=reason, at=at, size_bytes=dest.stat().st_size)
    with store.write() as session:
        session.add(row)
    return BackupView(row.path, row.reason, row.at, row.size_bytes)


def _stamp(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d-%H%M%S")


def list_backups(session: Session) -> list[BackupView]:
    rows = session.exec(select(BackupLog).order_by(col(BackupLog.id).desc())).all()
    return [BackupView(r.path, r.reason, r.at, r.size_bytes) for r in rows]


def daily_backup(store: Store, clock: Clock) -> BackupView | None:
    """Once a day, on first use of a store with people in it, keep a copy; prune old dailies."""
    day = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%d")
    with store.read() as session:
        last = session.get(Meta, DAILY_KEY)
        if (last is not None and last.value == day) or session.exec(
            select(User.id)
        ).first() is None:
            return None
    dest = store.config.backup_dir / f"market-{day}-daily.db"
    # Today's copy may exist already, from a store that was reset today: keep that one.
    made = None if dest.exists() else backup(store, clock, dest, "daily")
    with store.write() as session:
        session.merge(Meta(key=DAILY_KEY, value=day))
        dailies = session.exec(
            select(BackupLog).where(BackupLog.reason == "daily").order_by(col(BackupLog.id).desc())
        ).all()
        for old in dailies[store.config.settings.backups_kept :]:
            Path(old.path).unlink(missing_ok=True)
            session.delete(old)
    return made


def check_backup(config: Config, path: Path) -> VerifyReport:
    """Open a copy of the backup file (never the file itself) and verify it."""
    path = Path(path)
    files.check(path, cap=BACKUP_MAX_BYTES, what="backup (a .db file)")
    with tempfile.TemporaryDirectory(dir=config.home) as tmp:
        probe = Path(tmp) / "probe.db"
        try:
            _copy_sqlite(path, probe)
        except sqlite3.DatabaseError as exc:
            raise StoreFailure(
                "backup_unreadable", f"{path} is not a readable store: {exc}."
            ) from None
        store = Store.open(replace(config, db_url=f"sqlite:///{probe}", home=Path(tmp)))
        try:
            with store.read() as session:
                return verify(session)
        finally:
            store.close()


def _copy_sqlite(src: Path, dest: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def restore(config: Config, clock: Clock, path: Path) -> Path | None:
    """Verify the backup, keep the current store aside, then put the backup in its place.

    Returns where the previous store was kept (None when there was none).
    """
    report = check_backup(config, path)
    if not report.ok:
        first = report.problems[0]
        raise Refused(
            "backup_fails_verify",
            f"Refusing to restore {path}: it fails verify ({first.table} "
            f"#{first.row_id}: {first.what}). Choose an older backup.",
        )
    live = config.sqlite_path
    live.parent.mkdir(parents=True, exist_ok=True)
    incoming = live.with_name(live.name + ".restoring")
    incoming.unlink(missing_ok=True)
    _copy_sqlite(Path(path), incoming)
    kept = None
    if live.exists():
        kept = live.with_name(f"{live.stem}-before-restore-{_stamp(clock.now())}.db")
        _copy_sqlite(live, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    os.replace(incoming, live)
    return kept


# ---------------------------------------------------------------------------- export
