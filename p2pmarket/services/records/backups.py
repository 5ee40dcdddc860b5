"""Backups: a copy on demand, one a day on first use, and restore (the live file kept aside)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
from p2pmarket.services.market import photos
from p2pmarket.services.records import chain
from p2pmarket.services.records.audit import VerifyReport, verify
from p2pmarket.store.engine import Store, check_file, swap_in
from p2pmarket.store.sqlite import locks

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
    """Checkpoint the chain heads, copy the store with SQLite's online backup API, verified
    before it takes its name, and log it.

    The checkpoint goes into the copy too: a store restored from it still knows how long
    every chain was, so rows deleted from its tail later show in `verify`.
    """
    at = clock.now()
    dest = Path(dest) if dest else store.config.backup_dir / f"market-{_stamp(at)}-{reason}.db"
    if dest.exists():
        raise Invalid("backup_exists", f"{dest} exists already; choose another path.")
    with store.write() as session:
        chain.checkpoint(session, clock)
    _write_verified(store, dest)
    return _log(store, dest, reason, at)


def _log(store: Store, dest: Path, reason: str, at: int) -> BackupView:
    row = BackupLog(path=str(dest), reason=reason, at=at, size_bytes=dest.stat().st_size)
    with store.write() as session:
        session.add(row)
    return BackupView(row.path, row.reason, row.at, row.size_bytes)


def _write_verified(store: Store, dest: Path) -> None:
    """Write the copy to a temporary file beside `dest`, fsynced, check it (SQLite's
    quick_check, this schema version), then rename it: `dest` is a sound copy or is
    not there. A store whose pages fail the check is not copied at all."""
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        files.private_dir(dest.parent)
        store.backup(partial)
        files.private(partial)
        problems = check_file(partial)
        if problems:
            raise StoreFailure(
                "store_damaged",
                f"The market store fails SQLite's integrity check ({problems[0]}); no backup "
                f"was written. Restore an earlier one with `p2pmarket restore "
                f"{store.config.backup_dir}/<file>`.",
            )
        _copy_photos(_photo_names(partial), store.config.photo_dir, photo_dir_of(dest))
        os.replace(partial, dest)
    except (OSError, sqlite3.Error) as exc:
        # No half-copied photos beside a backup that was not written (the names are new).
        shutil.rmtree(photo_dir_of(dest), ignore_errors=True)
        raise _not_written(dest, exc) from None
    finally:
        for suffix in ("", "-journal"):
            # On a read-only filesystem even removing a missing file fails (EROFS).
            with suppress(OSError):
                Path(f"{partial}{suffix}").unlink(missing_ok=True)


def photo_dir_of(backup: Path) -> Path:
    """Where a backup's photo files are: a folder beside it (market-….db → market-….photos)."""
    return backup.with_suffix(".photos")


def _photo_names(db: Path) -> set[str]:
    """The photo files a SQLite copy's rows name (read from the copy: exactly its photos)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT sha256, thumb_sha256 FROM listing_photo").fetchall()
    except sqlite3.OperationalError:
        return set()  # a store from before photos (schema v12) has no such table
    finally:
        connection.close()
    return {sha for row in rows for sha in row}


def _copy_photos(names: set[str], source: Path, dest: Path) -> None:
    """Copy the named photo files from `source` into `dest`, private: only those whose
    bytes hash to their name (a missing or altered one stays behind, and verify says so)."""
    if not names:
        return
    files.private_dir(dest)
    for sha in sorted(names):
        target = photos.path_of(dest, sha)
        if photos.file_sha256(target) == sha:
            continue
        try:
            data = files.read_bytes(photos.path_of(source, sha), cap=photos.FILE_MAX, what="photo")
        except Invalid:
            continue
        if hashlib.sha256(data).hexdigest() == sha:
            files.write_private(target, data)


def _not_written(dest: Path, exc: OSError | sqlite3.Error) -> StoreFailure:
    detail = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "full" in detail:
        return StoreFailure(
            "backup_disk_full",
            f"The disk holding {dest.parent} is full: no backup was written. Free some space "
            "and retry.",
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or "unable to open" in detail:
        return StoreFailure(
            "backup_folder_unwritable",
            f"Cannot write in {dest.parent}: no backup was written. Make the folder writable "
            "or name another path.",
        )
    reason = getattr(exc, "strerror", None) or detail
    return StoreFailure(
        "backup_failed", f"Cannot write the backup {dest}: {reason}; no backup was written."
    )


def _stamp(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d-%H%M%S")


def list_backups(session: Session) -> list[BackupView]:
    rows = session.exec(select(BackupLog).order_by(col(BackupLog.id).desc())).all()
    return [BackupView(r.path, r.reason, r.at, r.size_bytes) for r in rows]


def daily_backup(store: Store, clock: Clock) -> BackupView | None:
    """Once a day, on first use of a store with people in it, keep a copy; prune old dailies.

    Only a sound copy counts as the day's: a failure raises (and the next use tries again),
    and a file of today's name that fails the check (0 bytes, an older version's) is replaced.
    """
    day = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%d")
    with store.read() as session:
        last = session.get(Meta, DAILY_KEY)
        if (last is not None and last.value == day) or session.exec(
            select(User.id)
        ).first() is None:
            return None
    dest = store.config.backup_dir / f"market-{day}-daily.db"
    made = None
    # Today's copy may exist already, from a store that was reset today: keep that one.
    if not dest.exists() or check_file(dest):
        _write_verified(store, dest)
        made = _log(store, dest, "daily", clock.now())
    with store.write() as session:
        session.merge(Meta(key=DAILY_KEY, value=day))
        dailies = session.exec(
            select(BackupLog).where(BackupLog.reason == "daily").order_by(col(BackupLog.id).desc())
        ).all()
        for old in dailies[store.config.settings.backups_kept :]:
            Path(old.path).unlink(missing_ok=True)
            shutil.rmtree(photo_dir_of(Path(old.path)), ignore_errors=True)
            session.delete(old)
    return made


@contextmanager
def _verified_copy(
    config: Config, path: Path, photo_dir: Path, *, carry_photos: bool = False
) -> Iterator[tuple[Path, VerifyReport]]:
    """A copy of the backup (never the file itself) beside the live store, and its verify
    report (chains, ledger, integrity_check, its photos' files in `photo_dir`); the copy
    is deleted on the way out. `carry_photos`: first copy the backup's photo files into
    `photo_dir` (named by their hashes: nothing there is replaced)."""
    path = Path(path)
    files.check(path, cap=BACKUP_MAX_BYTES, what="backup (a .db file)")
    if not locks.is_sqlite(path):
        raise Invalid("backup_unreadable", f"{path} is not a p2pmarket backup (not a SQLite file).")
    folder = config.sqlite_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".restoring-", dir=folder)
    except OSError as exc:
        raise StoreFailure(
            "home_unusable", f"Cannot write in the market home {folder}: {exc.strerror}."
        ) from None
    try:
        probe = Path(tmp) / "probe.db"
        try:
            _copy_sqlite(path, probe)
        except sqlite3.DatabaseError as exc:
            raise StoreFailure(
                "backup_unreadable", f"{path} is not a readable store: {exc}."
            ) from None
        if carry_photos:
            _copy_photos(_photo_names(probe), photo_dir_of(path), photo_dir)
        store = Store.open(replace(config, db_url=f"sqlite:///{probe}", home=Path(tmp)))
        try:
            with store.read() as session:
                report = verify(session, photo_dir=photo_dir)
        finally:
            store.close()
        yield probe, report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_backup(config: Config, path: Path) -> VerifyReport:
    """Verify a backup through a copy of it (its photos beside it, or else in the home)."""
    beside = photo_dir_of(Path(path))
    with _verified_copy(config, path, beside if beside.is_dir() else config.photo_dir) as (
        _probe,
        report,
    ):
        return report


def _copy_sqlite(src: Path, dest: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def restore(config: Config, clock: Clock, path: Path) -> Path | None:
    """Verify the backup, then put its verified copy in place of the live store, which is
    moved aside as it is (it may be corrupt, empty or missing). Running p2pmarkets lose no
    acknowledged write (store/engine.swap_in). Returns where the previous store was kept
    (None when there was none)."""
    with _verified_copy(config, path, config.photo_dir, carry_photos=True) as (incoming, report):
        if not report.ok:
            first = report.problems[0]
            raise Refused(
                "backup_fails_verify",
                f"Refusing to restore {path}: it fails verify ({first.table} "
                f"#{first.row_id}: {first.what}). Choose an older backup.",
            )
        return swap_in(config, incoming, _aside_name(config, clock))


def _aside_name(config: Config, clock: Clock) -> Path:
    """Where the live store goes: in backups/ (its owner's alone, like the store), under a
    name no file (nor its -wal) has yet."""
    folder = files.private_dir(config.backup_dir)
    base = f"{config.sqlite_path.stem}-before-restore-{_stamp(clock.now())}"
    n = 1
    while True:
        aside = folder / f"{base}{f'-{n}' if n > 1 else ''}.db"
        if not any(Path(f"{aside}{s}").exists() for s in ("", "-wal", "-shm")):
            return aside
        n += 1


# ---------------------------------------------------------------------------- export
