"""Every argument, file and stream is read defensively: an argument that is not text, a
device, a FIFO, a folder, a file over its cap, JSON nested too deep, a missing terminal —
each is one line on stderr, exit 2, within seconds, and changes nothing. And text
stored raw (before the cleaning rules, or by another tool) reaches no terminal raw."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from p2pmarket import files
from p2pmarket.models import Kind, Unit
from p2pmarket.services.market import demo
from p2pmarket.services.records import backups, export
from tests.cli.conftest import Cli
from tests.conftest import PASSPHRASE, make_listing, make_user
from tests.hostile.corpus import forbidden_in

pytestmark = pytest.mark.sqlite_only

BAD = "\x00BAD\x00"  # where the undecodable word goes in each command line

COMMANDS = {
    "as": ["order", "list", "--as", BAD],
    "as=": ["order", "list", f"--as={BAD}"],
    "profile": ["profile", BAD, "--as", "demo"],
    "credit show": ["credit", "show", BAD],
    "contact set-tier": ["contact", "set-tier", BAD, "trusted", "--as", "demo"],
    "listing list --seller": ["listing", "list", "--seller", BAD],
    "backup": ["backup", BAD],
    "search --json": ["search", BAD, "--as", "demo", "--json"],
    "run --user": ["run", "--user", BAD],
}
# Bytes that are not UTF-8 (Python hands them over as surrogate escapes), and a lone
# surrogate written as UTF-8 would be (also not UTF-8, so the same escapes arrive).
NOT_UTF8 = {"latin1": b"caf\xe9", "lone_surrogate": "\ud800".encode("utf-8", "surrogatepass")}


def _subprocess(home, args: list, **kw) -> tuple[subprocess.CompletedProcess, float]:
    argv = [sys.executable, "-m", "p2pmarket", "--home", str(home), *args]
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        env={**os.environ, "P2PMARKET_PASSPHRASE": "x" * 12},
        timeout=60,  # a hang fails the test instead of the suite
        **kw,
    )
    return done, time.perf_counter() - started


def _one_error_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8") if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    assert not forbidden_in(text), repr(text)
    return lines[0]


def _where(args: list[str]) -> str:
    """How the refusal names the bad word: its position after `--home HOME`."""
    position = next(i for i, word in enumerate(args) if BAD in word) + 3
    return f"argument {position}"


@pytest.mark.parametrize("encoding", list(NOT_UTF8))
@pytest.mark.parametrize("name", list(COMMANDS))
def test_bytes_that_are_not_utf8_are_one_line_naming_the_argument(tmp_path, name, encoding):
    home = tmp_path / "home"
    args = [
        os.fsencode(word).replace(os.fsencode(BAD), NOT_UTF8[encoding]) for word in COMMANDS[name]
    ]
    done, _ = _subprocess(home, args, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    line = _one_error_line(done.stderr)
    assert _where(COMMANDS[name]) in line and "not valid UTF-8" in line
    if name in ("as", "as="):
        assert "--as" in line
    assert not home.exists(), "a refusal creates nothing"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_lone_surrogate_in_any_argument_is_one_line(tmp_path, name):
    """The runner passes str as they are: a lone surrogate arrives, not its escapes."""
    home = tmp_path / "home"
    args = [word.replace(BAD, "x\udcff") for word in COMMANDS[name]]
    result = Cli(home)(*args, code=2)
    line = _one_error_line(result.output)
    assert _where(COMMANDS[name]) in line
    assert not home.exists()


# ------------------------------------------------------------------------------- files

FILE_COMMANDS = {
    "load": (["load"], demo.MARKET_FILE_MAX_BYTES),
    "verify-export": (["verify-export"], export.EXPORT_MAX_BYTES),
    "restore": (["restore", "--yes"], backups.BACKUP_MAX_BYTES),
}


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "folder"])
@pytest.mark.parametrize("command", list(FILE_COMMANDS))
def test_devices_fifos_and_folders_are_refused_within_seconds(tmp_path, fifo, command, target):
    home = tmp_path / "home"
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "folder": str(tmp_path)}[target]
    done, seconds = _subprocess(home, [*FILE_COMMANDS[command][0], path], text=True)
    assert done.returncode == 2, done.stderr
    line = _one_error_line(done.stderr)
    kind = {"/dev/zero": "is a device", "fifo": "is a FIFO", "folder": "is a folder"}[target]
    assert kind in line
    assert seconds < 20, f"{command} {target} took {seconds:.1f} s"
    assert not home.exists()


@pytest.mark.parametrize("command", list(FILE_COMMANDS))
def test_a_file_over_its_cap_is_refused_and_the_cap_is_stated(tmp_path, command):
    args, cap = FILE_COMMANDS[command]
    path = tmp_path / "big"
    with path.open("wb") as f:
        f.truncate(cap + 1)  # sparse: no disk is spent, and nothing reads it
    home = tmp_path / "home"
    result = Cli(home)(*args, str(path), code=2)
    line = _one_error_line(result.output)
    assert f"at most {cap // files.MIB:,} MiB" in line
    assert not home.exists()


def _nested(levels: int) -> dict:
    """A market file whose users list holds one user nested `levels` deep in all."""
    inner: object = 1
    for _ in range(levels - 3):  # the file, "users" and the user are three levels
        inner = [inner]
    return {"users": [{"handle": "ann", "real_name": "Ann", "lat": 31.2, "lon": 121.4, "x": inner}]}


def test_json_is_refused_one_level_past_the_depth_cap(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(_nested(files.JSON_DEPTH_MAX + 1)))
    home = tmp_path / "home"
    result = Cli(home)("load", str(path), code=2)
    line = _one_error_line(result.output)
    assert f"nests deeper than {files.JSON_DEPTH_MAX} levels" in line
    assert not home.exists()

    path.write_text(json.dumps(_nested(files.JSON_DEPTH_MAX)))
    assert files.read_json(path, cap=files.MIB, what="market file") == _nested(files.JSON_DEPTH_MAX)


def test_json_constants_outside_the_standard_are_refused(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"users": [{"lat": NaN}]}')
    result = Cli(tmp_path / "home")("load", str(path), code=2)
    assert "holds a number JSON can't carry" in _one_error_line(result.output)


# ---------------------------------------------------------------------------- terminal


@pytest.mark.parametrize("args", [["run"], ["run", "--user", "demo"], ["demo", "--open"]])
def test_the_app_without_a_terminal_says_so_at_once(tmp_path, args):
    home = tmp_path / "home"
    done, seconds = _subprocess(home, args, stdin=subprocess.DEVNULL, text=True)
    assert done.returncode == 2, done.stderr
    assert "run it in a terminal" in _one_error_line(done.stderr)
    assert seconds < 20
    assert not home.exists(), "demo --open refused before loading anything"


# ---------------------------------------------------------------------- stored raw text

RAW = "\x1b]0;pwned\x07Bike\u202e \x9b31m\x7fred\u2066 \x00 fast"
SHOWN = "]0;pwnedBike 31mred  fast"  # what is left once the controls are stripped


@pytest.fixture
def raw_market(store, clock, tmp_path):
    """A listing title and a handle written raw, as an older version or another tool could have."""
    ann = make_user(store, clock, "ann", verified=True)
    make_user(store, clock, "bob", verified=True)
    listing = make_listing(
        store, clock, ann, title="Bike", category="bicycles", kind=Kind.goods, unit=Unit.item
    )
    db = sqlite3.connect(store.config.sqlite_path)
    with db:
        db.execute("UPDATE listing SET title = ? WHERE id = ?", (RAW, listing.id))
        db.execute("UPDATE user SET handle = ? WHERE id = ?", ("ann" + RAW[:6], ann.id))
    db.close()
    cli = Cli(store.config.home, passphrase=PASSPHRASE)
    cli.listing_id = listing.id
    return cli


@pytest.mark.parametrize(
    "args", [["listing", "list"], ["listing", "show", "{id}"], ["search", "bike", "--as", "bob"]]
)
@pytest.mark.parametrize("as_json", [False, True])
def test_raw_stored_text_is_printed_clean(raw_market, args, as_json):
    args = [a.replace("{id}", str(raw_market.listing_id)) for a in args]
    result = raw_market(*args, *(["--json"] if as_json else []))
    assert not forbidden_in(result.output), repr(result.output[:300])
    if as_json:
        titles = json.dumps(json.loads(result.stdout), ensure_ascii=False)
        assert SHOWN in titles and "ann" in titles
    else:
        assert "pwnedBike" in result.output


def test_search_json_echoes_its_query_clean(raw_market):
    found = raw_market.json("search", f"bike {RAW}", "--as", "bob")
    assert found["query"] == f"bike {SHOWN}"
