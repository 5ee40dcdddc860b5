"""Files a person names on the command line are read defensively; files the market
writes (the store, backups, exports, what people last saw) are its owner's alone.

A path can name a device (`/dev/zero` never ends), a FIFO (reading waits for a writer
forever), a folder, or a file far bigger than anything the market writes. Each is
refused with one sentence before a byte is read; JSON is parsed only below a size cap
and refused when nested deeper than any market file is.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from p2pmarket.errors import Invalid

MIB = 1024 * 1024
# Market files nest four levels (file → users → user → location); exports five.
JSON_DEPTH_MAX = 32

# O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (then fstat refuses it);
# O_NOCTTY: naming a terminal device never makes it this process's controlling terminal.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)

_KINDS = (
    (stat.S_ISCHR, "device"),
    (stat.S_ISBLK, "device"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
)


def _size(n: int) -> str:
    return f"{n / MIB:,.0f} MiB" if n >= MIB else f"{n:,} bytes"


def _refuse_unless_regular(path: Path, info: os.stat_result, *, cap: int, what: str) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise Invalid("file_folder", f"{path} is a folder: give the path of a {what}.")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "special file")
        raise Invalid("file_special", f"{path} is a {kind}, not a file: give the path of a {what}.")
    if info.st_size > cap:
        raise Invalid(
            "file_too_big",
            f"{path} is {_size(info.st_size)}; a {what} is at most {_size(cap)}.",
        )


def _missing_or_unreadable(path: Path, exc: OSError) -> Invalid:
    if isinstance(exc, FileNotFoundError):
        return Invalid("file_missing", f"No file {str(path)!r}.")
    return Invalid("file_unreadable", f"Cannot read {path}: {exc.strerror}.")


def check(path: Path, *, cap: int, what: str) -> None:
    """For files another library opens itself (SQLite): a regular file of at most `cap` bytes."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _missing_or_unreadable(path, exc) from None
    _refuse_unless_regular(path, info, cap=cap, what=what)


def read_bytes(path: Path, *, cap: int, what: str) -> bytes:
    """The bytes of a regular file of at most `cap` bytes (checked on the opened file)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _missing_or_unreadable(path, exc) from None
    try:
        _refuse_unless_regular(path, os.fstat(fd), cap=cap, what=what)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(cap + 1)  # it may have grown since fstat
    except OSError as exc:
        raise _missing_or_unreadable(path, exc) from None
    finally:
        os.close(fd)
    if len(data) > cap:
        raise Invalid("file_too_big", f"{path} grew past {_size(cap)}; a {what} is at most that.")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _deeper_than(value: object, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (one level of the tree per step)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _too_deep(path: Path, depth: int, what: str) -> Invalid:
    return Invalid("file_too_deep", f"{path} nests deeper than {depth} levels: give a {what}.")


def read_json(path: Path, *, cap: int, what: str, depth: int = JSON_DEPTH_MAX) -> object:
    """JSON from a user-given file: size-capped before parsing, depth-capped after."""
    raw = read_bytes(path, cap=cap, what=what)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Invalid("file_encoding", f"{path} is not UTF-8 text: give a {what}.") from None
    except json.JSONDecodeError as exc:
        raise Invalid(
            "file_not_json", f"{path} is not JSON ({exc.msg} at line {exc.lineno}): give a {what}."
        ) from None
    except RecursionError:
        raise _too_deep(path, depth, what) from None
    except ValueError:
        # NaN/Infinity, or a number of thousands of digits (Python's int limit).
        raise Invalid(
            "file_not_json", f"{path} holds a number JSON can't carry: give a {what}."
        ) from None
    if _deeper_than(data, depth):
        raise _too_deep(path, depth, what)
    return data


def private(path: Path) -> Path:
    """Make `path` its owner's alone: 0600 for a file, 0700 for a folder. The store holds
    chats, passphrase hashes and histories; a backup or an export holds as much. A
    filesystem that keeps no modes (some mounts) leaves it as it is."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    return path


def private_dir(path: Path) -> Path:
    """A folder made (with its parents) if missing, its owner's alone."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return private(path)


def write_private(path: Path, content: str | bytes) -> None:
    """`content` (text or bytes) written to `path`, a file its owner's alone from the
    moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    binary = isinstance(content, bytes)
    with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as out:
        out.write(content)
    private(path)  # an existing file keeps its mode through O_CREAT
