"""Fuzzing the CLI's numeric options: prices, amounts, quantities, coordinates, radius, pages,
limits, offsets, stars and ids. Whatever is typed, the exit code is 0, 1 or 2 (never a crash),
the output has no traceback, and a refused command (exit 1 or 2) commits nothing."""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.conftest import ADD_BOOK, Cli

pytestmark = pytest.mark.sqlite_only

# What people (and scripts, and attackers) type where a number belongs.
ODD = [
    "",
    " ",
    "0",
    "-0",
    "+5",
    " 5",
    "5 ",
    "1_000",
    "1,000",
    "0x10",
    "1e3",
    "1e400",
    "-1e400",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "٣",  # Arabic-Indic three: int() accepts it
    "²",  # superscript two: isdigit() says yes, int() says no
    "１２",  # full-width digits
    "9" * 40,
    str(2**63 - 1),
    str(2**63),
    str(-(2**63) - 1),
    "1.000000000000001",
    "0.001",
    "12.345",
    "--5",
    "5-",
    "\x00",
    "[@click=app.quit]5[/]",
]

NUMBERS = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=-3, max_value=40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.text(alphabet="0123456789.-+eE_,x ", min_size=1, max_size=14),
)

_fresh = itertools.count()


def _handle() -> str:
    return f"fz{next(_fresh)}"


# Every command that takes a number, with X (and Y) where the fuzzed values go.
COMMANDS: list[tuple[str, ...]] = [
    (
        *ADD_BOOK,
        "--title",
        "Fuzz",
        "--price",
        "X",
    ),
    (
        *ADD_BOOK,
        "--title",
        "Fuzz",
        "--price",
        "10",
        "--quantity",
        "X",
    ),
    ("listing", "edit", "X", "--as", "demo", "--price", "Y"),
    ("listing", "edit", "X", "--as", "demo", "--quantity", "Y"),
    ("listing", "show", "X"),
    ("listing", "pause", "X", "--as", "demo"),
    ("listing", "list", "--limit", "X", "--offset", "Y"),
    ("user", "add", "HANDLE", "--name", "Fuzz", "--lat", "X", "--lon", "Y"),
    ("user", "list", "--limit", "X", "--offset", "Y"),
    ("search", "bike", "--as", "demo", "--radius-km", "X", "--page", "Y"),
    ("search", "--as", "demo", "--min-price", "X", "--max-price", "Y"),
    ("search", "--as", "demo", "--min-credit", "X"),
    ("search", "--as", "demo", "--near", "X,Y"),
    ("price", "suggest", "--as", "demo", "--category", "books", "--unit", "item", "--near", "X,Y"),
    ("wallet", "topup", "X", "--as", "demo"),
    ("wallet", "withdraw", "X", "--as", "demo", "--confirm"),
    ("order", "create", "X", "--as", "demo", "--qty", "Y"),
    ("order", "show", "X", "--as", "demo"),
    ("order", "accept", "X", "--as", "lin_piano"),
    ("order", "cancel", "X", "--as", "demo"),
    ("order", "pay", "X", "Y", "--as", "demo", "--confirm"),
    ("order", "resolve", "X", "split", "Y", "--as", "mei_mediator", "--confirm"),
    ("review", "X", "Y", "fuzzed review", "--as", "demo"),
    ("chat", "send", "lin_piano", "hello", "--as", "demo", "--listing", "X", "--order", "Y"),
    ("chat", "request", "demo", "X", "--as", "lin_piano", "--listing", "Y"),
    ("chat", "show", "lin_piano", "--as", "demo", "--limit", "X"),
    ("credit", "show", "demo", "--limit", "X"),
]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("numbers") / "home")
    cli("demo")
    cli("wallet", "topup", "500", "--as", "demo")
    return cli


def _fingerprint(db: sqlite3.Connection) -> tuple:
    """Row counts of every table and the file's change counter (moves on any commit)."""
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("search_")
    ]
    counts = tuple(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
    return counts, db.execute("PRAGMA data_version").fetchone()[0]


def _args(template: tuple[str, ...], x: str, y: str) -> list[str]:
    out = []
    for arg in template:
        if arg == "HANDLE":
            out.append(_handle())
        else:
            out.append(arg.replace("X", x).replace("Y", y) if arg in ("X", "Y", "X,Y") else arg)
    return out


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(template=st.sampled_from(COMMANDS), x=NUMBERS, y=NUMBERS)
def test_numeric_options_never_crash_and_refusals_write_nothing(market, template, x, y):
    args = _args(template, x, y)
    db = sqlite3.connect(market.home / "market.db")
    try:
        before = _fingerprint(db)
        result = market(*args, code=None)
        after = _fingerprint(db)
    finally:
        db.close()
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, (args, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert "Traceback" not in result.output
    # `order pay X Y` pays each order on its own: exit 1 if any was refused, and the
    # ones it reports paid were written. Every other refusal writes nothing.
    if result.exit_code != 0 and ": paid." not in result.output:
        assert after == before, (args, result.output)
        assert result.output.strip(), "a refusal says why"


@pytest.mark.parametrize(
    "args",
    [
        ("order", "show", str(2**63), "--as", "demo"),
        ("listing", "show", "9" * 30),
        ("listing", "list", "--offset", str(2**63)),
        ("chat", "send", "lin_piano", "hi", "--as", "demo", "--order", "9" * 30),
        ("review", "9" * 30, "4", "fine", "--as", "demo"),
    ],
)
def test_ids_beyond_64_bits_are_a_clear_refusal(market, args):
    """SQLite ids are 64-bit; the driver cannot even bind a larger one (was an OverflowError)."""
    result = market(*args, code=2)
    assert "larger than any id" in result.output
