"""Replacing a SQLite store under running p2pmarkets (restore) without losing a write.

SQLite names its -wal and -shm after the database's path, and a connection keeps the file
it opened even after that path names another one: a write through it after a restore would
land, acknowledged, in the copy kept aside. So every connection records which file it
opened (its inode, read while opening under the folder's shared lock), and every write,
once it holds SQLite's write lock, takes the folder's shared lock and checks that the path
still names that file; if not, it rolls back and says so (`Replaced`), and its store drops
its connections so the next command opens the new file. A restore holds SQLite's write lock
on the live file and the folder's exclusive lock while it renames the files, so a write
either committed before the swap (it is in the copy kept aside) or is refused after it.
A connection whose file was moved never checkpoints into, nor deletes, the new -wal: SQLite
checks that itself on close.

The lock is `flock` on the store's folder: no extra file, it works on a read-only folder,
and two open descriptors exclude each other even in one process (threads, tests). Where
there is no `flock` (Windows) there is no lock, and a restore must be run alone.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from p2pmarket.errors import StoreFailure

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

FileId = tuple[int, int]
POLL_S = 0.002


class Replaced(StoreFailure):
    def __init__(self, path: Path) -> None:
        super().__init__(
            "store_replaced",
            f"The market store {path} was replaced (restored from a backup) while this "
            "p2pmarket was running; nothing was changed. Run it again: it works on the "
            "restored store now.",
        )


def file_id(path: Path) -> FileId | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def folder_fd(path: Path) -> int | None:
    """A descriptor of the store's folder to lock, or None where locking is unavailable."""
    if fcntl is None:
        return None
    try:
        return os.open(path.parent, os.O_RDONLY)
    except OSError:
        return None


def shared(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)


def release(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def exclusive(path: Path, deadline: float) -> Iterator[bool]:
    """The folder's exclusive lock, asked for every few ms until `deadline` (monotonic);
    yields False when it was not had in time."""
    fd = folder_fd(path)
    if fd is None:
        yield True
        return
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(POLL_S)
        yield True
    finally:
        os.close(fd)


def is_sqlite(path: Path) -> bool:
    """The file is a SQLite database: its header read by SQLite itself, read-only and taking
    no locks (`immutable`), never a 0-byte file.

    Never by a plain open: closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's own connections' too. A second store opened in a process
    that had one open (`demo --open`: the command's store, then the app's) lost the first
    one's locks; another process closing the store then saw itself the last one, and
    checkpointed and deleted the -wal the app went on writing to: its writes were lost.
    SQLite keeps a descriptor it would close open while this process holds locks on the
    file, so its locks stay."""
    try:
        if path.stat().st_size == 0:
            return False
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except (OSError, sqlite3.Error):
        return False
    try:
        raw.execute("PRAGMA schema_version").fetchone()  # reads the header
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        raw.close()
