"""Failure of the environment, through the real CLI: a store locked beyond the busy timeout,
a corrupt file, a read-only home, a full disk. Each is one clear line on stderr, exit 1, no
traceback, and nothing half-written: the store is byte-identical (or verifies, with the same
balances) afterwards."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ADD_BOOK, Cli

pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "P2PMARKET_PASSPHRASE": "market-demo-2026",
    "P2PMARKET_NOW": "2026-11-01T09:00:00",
    "P2PMARKET_HASH_PROFILE": "cheapest",
}
WRITES = [
    ("wallet", "topup", "5", "--as", "demo"),
    (
        *ADD_BOOK,
        "--price",
        "10",
        "--title",
        "Written while broken",
    ),
    ("chat", "send", "lin_piano", "hello?", "--as", "demo"),
]
READS = [("user", "list"), ("verify",), ("search", "bike", "--as", "demo"), ("backup",)]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    """A demo market made once; each test works on its own copy."""
    home = tmp_path_factory.mktemp("env") / "home"
    Cli(home)("demo")
    return home


@pytest.fixture
def home(demo_home, tmp_path) -> Path:
    copy = tmp_path / "market"
    shutil.copytree(demo_home, copy)
    return copy


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def _one_clear_line(output: str, *words: str) -> None:
    assert "Traceback" not in output, output
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for word in words:
        assert word in lines[0], output


def _cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "p2pmarket", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV, **env},
        cwd=ROOT,
        timeout=120,
    )


# -- a store locked by another writer ---------------------------------------------------------

HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE account SET balance = balance WHERE id = 1")
    print("locked", flush=True)
    sys.stdin.read()  # hold the write lock until the test closes our stdin
    db.execute("ROLLBACK")
    """
)


def test_a_store_locked_beyond_the_busy_timeout_says_try_again(home):
    before = Cli(home).json("wallet", "show", "--as", "demo")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(home / "market.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        # The first command is a real process, as a person would run it; the rest in-process.
        started = time.monotonic()
        result = _cli(*WRITES[0], home=home, P2PMARKET_BUSY_TIMEOUT="0.3")
        assert result.returncode == 1 and result.stdout == "", result.stderr
        _one_clear_line(result.stderr, "busy", "0.3 s", "try again")
        assert time.monotonic() - started < 20
        cli = Cli(home)
        for args in WRITES[1:]:
            result = cli(*args, code=1, P2PMARKET_BUSY_TIMEOUT="0.3")
            _one_clear_line(result.output, "busy", "0.3 s", "try again")
        # Readers are not blocked by a writer (WAL): looking still works meanwhile.
        cli("user", "list", P2PMARKET_BUSY_TIMEOUT="0.3")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    cli = Cli(home)
    assert cli.json("wallet", "show", "--as", "demo") == before
    assert cli.json("verify")["ok"] is True
    titles = [row["title"] for row in cli.json("listing", "list", "--limit", "1000")["listings"]]
    assert "Written while broken" not in titles


def test_busy_timeout_default_is_10_s_and_bad_values_keep_it():
    from p2pmarket import config

    assert config.resolve(env={}).settings.busy_timeout_s == 10
    assert config.resolve(env={"P2PMARKET_BUSY_TIMEOUT": "0.5"}).settings.busy_timeout_s == 0.5
    for bad in ("soon", "-1", "0", "nan", "1e9"):
        env = {"P2PMARKET_BUSY_TIMEOUT": bad}
        assert config.resolve(env=env).settings.busy_timeout_s == 10


# -- a corrupt file -----------------------------------------------------------------------------


def _truncate(db: Path) -> None:
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(b"not a market " * 4000)


def _scribble(db: Path) -> None:
    with db.open("r+b") as f:
        f.seek(4096 * 20)
        f.write(b"\xff" * 4096 * 30)


@pytest.mark.parametrize("damage", [_truncate, _garbage, _scribble])
def test_a_corrupt_store_names_the_restore_command_and_is_left_alone(home, damage):
    damage(home / "market.db")
    before = _digest(home)
    cli = Cli(home)
    for args in WRITES + READS:
        result = cli(*args, code=1)
        _one_clear_line(result.output, "not a readable p2pmarket store", "p2pmarket restore")
    assert _digest(home) == before


def _empty(db: Path) -> None:
    db.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _garbage, _scribble, _empty])
def test_the_restore_the_message_names_works_and_keeps_the_damaged_bytes(home, tmp_path, damage):
    cli = Cli(home)
    good = tmp_path / "good.db"
    cli("backup", str(good))
    before = cli.json("wallet", "show", "--as", "demo")
    damage(home / "market.db")
    damaged = (home / "market.db").read_bytes()
    # A 0-byte store too is refused (never taken for a new, empty market).
    result = cli("wallet", "show", "--as", "demo", code=1)
    _one_clear_line(result.output, "not a readable p2pmarket store", "p2pmarket restore")
    out = cli.json("restore", str(good), "--yes")
    assert Path(out["previous_store_kept_at"]).read_bytes() == damaged
    assert cli.json("wallet", "show", "--as", "demo") == before
    assert cli.json("verify")["ok"] is True


def test_restore_into_a_missing_home_makes_it(home, tmp_path):
    good = tmp_path / "good.db"
    Cli(home)("backup", str(good))
    fresh = Cli(tmp_path / "new" / "home")
    assert fresh.json("restore", str(good), "--yes")["previous_store_kept_at"] is None
    assert fresh.json("wallet", "show", "--as", "demo") == Cli(home).json(
        "wallet", "show", "--as", "demo"
    )


# -- a read-only home, a full disk (real filesystems, in a private mount namespace) ------------


def _can_mount() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _can_mount(), reason="needs unshare -rm to mount a private tmpfs"
)

# Runs inside `unshare -rm`: mounts vanish with the namespace, whatever happens.
IN_NAMESPACE = textwrap.dedent(
    """
    import json, os, shutil, subprocess, sys
    src, mnt, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    writes, reads = json.loads(sys.argv[4]), json.loads(sys.argv[5])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    shutil.copytree(src, mnt, dirs_exist_ok=True)  # the store, and its photos folder

    from typer.testing import CliRunner
    from p2pmarket.cli import app

    def cli(args):
        r = CliRunner().invoke(app, ["--home", mnt, *args])
        crash = None if isinstance(r.exception, (SystemExit, type(None))) else repr(r.exception)
        return {"args": args, "code": r.exit_code, "out": r.stdout, "err": r.stderr, "crash": crash}

    before = cli(["wallet", "show", "--as", "demo", "--json"])
    if mode == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    else:
        with open(os.path.join(mnt, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\\0" * 65536)
                    f.flush()
            except OSError:
                pass
    broken = [cli(a) for a in writes + reads]
    if mode == "read-only":
        subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
    else:
        os.remove(os.path.join(mnt, "filler"))
    after = cli(["wallet", "show", "--as", "demo", "--json"])
    verify = cli(["verify", "--json"])
    listings = cli(["listing", "list", "--limit", "1000", "--json"])
    print(json.dumps({"before": before, "broken": broken, "after": after, "verify": verify,
                      "listings": listings}))
    """
)


def _in_namespace(home: Path, tmp_path: Path, mode: str) -> dict:
    import json

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        [
            "unshare",
            "-rm",
            sys.executable,
            "-c",
            IN_NAMESPACE,
            str(home),
            str(mnt),
            mode,
            json.dumps([list(a) for a in WRITES]),
            json.dumps([list(a) for a in READS]),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_mount
@pytest.mark.parametrize(
    ("mode", "words"),
    [("read-only", ("read-only", "--home")), ("full", ("full", "Free some space"))],
)
def test_a_read_only_home_or_a_full_disk_is_one_clear_line_and_writes_nothing(
    home, tmp_path, mode, words
):
    import json

    seen = _in_namespace(home, tmp_path, mode)
    for run in seen["broken"]:
        assert run["crash"] is None and run["code"] == 1, run
        assert run["out"] == "", run
        _one_clear_line(run["err"], *words)
    assert seen["before"]["code"] == 0 and seen["after"]["code"] == 0
    assert json.loads(seen["after"]["out"]) == json.loads(seen["before"]["out"])
    assert json.loads(seen["verify"]["out"])["ok"] is True
    titles = [row["title"] for row in json.loads(seen["listings"]["out"])["listings"]]
    assert "Written while broken" not in titles


# The daily backup on a new day, with 200 kB left on the disk and then with backups/ on a
# read-only filesystem (which stops root too): the command goes on with one warning line.
NEW_DAY = textwrap.dedent(
    """
    import json, os, shutil, subprocess, sys
    src, mnt = sys.argv[1], sys.argv[2]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    shutil.copytree(src, mnt, dirs_exist_ok=True)  # the store, and its photos folder

    from typer.testing import CliRunner
    from p2pmarket.cli import app

    def cli(day, *args):
        env = {"P2PMARKET_NOW": f"2026-11-{day:02d}T09:00:00"}
        r = CliRunner().invoke(app, ["--home", mnt, *args], env=env)
        crash = None if isinstance(r.exception, (SystemExit, type(None))) else repr(r.exception)
        return {"code": r.exit_code, "out": r.stdout, "err": r.stderr, "crash": crash}

    backups = os.path.join(mnt, "backups")
    show = ("wallet", "show", "--as", "demo", "--json")
    before = cli(1, *show)
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\\0" * 65536)
                f.flush()
        except OSError:
            pass
    os.truncate(filler, os.path.getsize(filler) - 200 * 1024)
    nearly_full = [cli(2, *show), cli(2, *show), cli(2, "backup")]
    left_full = sorted(os.listdir(backups))
    os.remove(filler)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", backups], check=True)
    unwritable = [cli(3, *show), cli(3, "backup")]
    subprocess.run(["umount", backups], check=True)
    after = cli(4, *show)
    print(json.dumps({"before": before, "nearly_full": nearly_full, "left_full": left_full,
                      "unwritable": unwritable, "after": after,
                      "left_after": sorted(os.listdir(backups))}))
    """
)


@needs_mount
def test_a_failing_daily_backup_warns_once_and_never_blocks_a_command(home, tmp_path):
    import json

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        ["unshare", "-rm", sys.executable, "-c", NEW_DAY, str(home), str(mnt)],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["before"]["code"] == 0
    *shows, manual = seen["nearly_full"]
    # A new day's timers may move money (a rental's deposit comes back): the day's own
    # first answer is the one every later read that day repeats.
    wallet = json.loads(shows[0]["out"])
    for run in shows:
        # The command's own output, then one warning line; every new use tries again.
        assert run["crash"] is None and run["code"] == 0, run
        assert json.loads(run["out"]) == wallet
        assert run["err"].count("\n") == 1 and run["err"].startswith("warning: "), run
        assert "backup was not made" in run["err"] and "full" in run["err"], run
    assert manual["code"] == 1 and manual["out"] == ""
    _one_clear_line(manual["err"], "full", "no backup was written")
    # No 0-byte or partial file (nor photos folder): only the first day's backup.
    assert seen["left_full"] == ["market-20261101-daily.db", "market-20261101-daily.photos"]
    show, manual = seen["unwritable"]
    assert show["code"] == 0 and json.loads(show["out"])["handle"] == "demo", show
    assert show["err"].startswith("warning: ") and "Cannot write in" in show["err"], show
    assert manual["code"] == 1
    _one_clear_line(manual["err"], "Cannot write in", "no backup was written")
    # Space back, folder writable: the next use makes the day's backup.
    assert seen["after"]["code"] == 0 and seen["after"]["err"] == ""
    assert "market-20261104-daily.db" in seen["left_after"]
