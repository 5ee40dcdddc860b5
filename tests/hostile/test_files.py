"""Files that are not JSON, or JSON of the wrong shape, given to `load` and `verify-export`:
one clear line, exit 2 (or 1 when a well-formed export does not match), nothing written."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.cli.conftest import Cli
from tests.hostile.corpus import HOSTILE, forbidden_in

pytestmark = pytest.mark.sqlite_only

NOT_JSON: dict[str, bytes] = {
    "empty": b"",
    "spaces": b"   \n\t ",
    "binary": bytes(range(256)) * 8,
    "latin1": "caf\xe9 {".encode("latin-1"),
    "utf16": json.dumps({"users": []}).encode("utf-16"),
    "bom": b"\xef\xbb\xbf" + json.dumps({"users": []}).encode(),
    "truncated": b'{"users": [{"handle": "ann"',
    "trailing": b'{"users": []} garbage',
    "nan": b'{"users": [], "x": NaN}',
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge_number": b'{"users": [{"lat": 1' + b"0" * 5000 + b"}]}",
    "escape_in_name": b'{"users": [{"handle": "\x1b]0;pwned\x07"}]}',
}

WRONG_SHAPE: dict[str, object] = {
    "null": None,
    "list": [1, 2],
    "string": "users",
    "number": 12,
    "users_not_list": {"users": {"handle": "ann"}},
    "users_of_numbers": {"users": [1, 2, 3]},
    "listings_not_list": {"users": [], "listings": "many"},
    "user_missing_fields": {"users": [{"handle": "ann"}]},
    "user_bad_types": {"users": [{"handle": 5, "real_name": ["x"], "lat": "north", "lon": None}]},
    "user_bool_lat": {"users": [{"handle": "ann", "real_name": "Ann", "lat": True, "lon": 1}]},
    "user_hostile": {
        "users": [
            {"handle": s[:40] or "x", "real_name": s, "lat": 31.2, "lon": 121.4} for s in HOSTILE
        ]
    },
    "listing_bad_price": {
        "users": [],
        "listings": [{"seller": "ann", "title": "x", "price": "1e400", "category": "books"}],
    },
    "export_empty": {},
    "export_wrong_types": {"handle": 5, "payments": "none", "chain_heads": [], "history_hash": 1},
    "export_heads_garbage": {"handle": "demo", "chain_heads": {"entry": "x"}},
}


def _fingerprint(cli) -> tuple:
    db = sqlite3.connect(cli.home / "market.db")
    try:
        tables = [
            n
            for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if not n.startswith("search_")
        ]
        counts = tuple(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
    finally:
        db.close()
    return counts


def _one_line(result) -> None:
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, repr(result.exception)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert lines, "a refusal says why"
    assert len(lines) == 1, result.output
    assert not forbidden_in(result.output), repr(result.output[:200])


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("files") / "home")
    cli("demo")
    cli("user", "list")  # the day's first command takes the daily backup
    return cli


@pytest.mark.parametrize("name", list(NOT_JSON) + list(WRONG_SHAPE))
@pytest.mark.parametrize("command", ["load", "verify-export"])
def test_bad_files_are_one_clear_line_and_write_nothing(market, tmp_path, name, command):
    path = tmp_path / f"{name}.json"
    if name in NOT_JSON:
        path.write_bytes(NOT_JSON[name])
    else:
        path.write_text(json.dumps(WRONG_SHAPE[name]))
    before = _fingerprint(market)
    result = market(command, str(path), code=None)
    assert result.exit_code in (1, 2), result.output
    _one_line(result)
    assert _fingerprint(market) == before


@pytest.mark.parametrize("command", ["load", "verify-export"])
def test_a_missing_file_or_a_folder_is_one_clear_line(market, tmp_path, command):
    for target in (tmp_path / "nothing.json", tmp_path):
        result = market(command, str(target), code=2)
        _one_line(result)


def test_a_file_with_nothing_to_load_says_so(market, tmp_path):
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"user": [{"handle": "ann"}], "listing": []}))
    before = _fingerprint(market)
    result = market("load", str(path), code=2)
    assert "no users and no listings: nothing to load" in result.output
    assert _fingerprint(market) == before
