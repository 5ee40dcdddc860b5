"""A person's `--help` and `where` wait for none of the store's code (#13 item 18): the
command modules name the market's modules, loaded only when a command uses them."""

import json
import subprocess
import sys

import pytest

from p2pmarket import cli


def _loaded(home, argv: list[str]) -> list[str]:
    """The modules a fresh Python holds after the CLI ran `argv` (exit 0)."""
    code = (
        "import json, sys\n"
        "import p2pmarket.cli as cli\n"
        f"sys.argv = ['p2pmarket', '--home', {str(home)!r}, *{argv!r}]\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _store_code(module: str) -> bool:
    # pydantic too: Typer would build a validator of it for every text option (cli/__init__.py).
    return (
        module.split(".")[0] in ("sqlalchemy", "sqlmodel", "pydantic")
        or module in ("p2pmarket.store.engine", "p2pmarket.models")
        or module.startswith(("p2pmarket.services", "p2pmarket.market"))
    )


# The default store, a file in the home: a PostgreSQL URL (P2PMARKET_DB, the suite's
# PostgreSQL run) has a password that `where` masks with SQLAlchemy's URL parser.
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "argv", [["--help"], ["where"], ["listing", "--help"], ["order", "pay", "--help"]]
)
def test_help_and_where_load_no_store(tmp_path, argv):
    assert [m for m in _loaded(tmp_path, argv) if _store_code(m)] == []
    assert not (tmp_path / "market.db").exists()  # where opens (and makes) no store


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        (["where"], ["market"]),
        (["listing", "show", "--help"], ["listings"]),
        (["order", "pay", "--help"], ["money"]),
        (["--help"], sorted(set(cli.COMMANDS.values()))),  # each summary from its module
    ],
)
def test_a_command_imports_its_own_module_only(tmp_path, argv, modules):
    loaded = [m for m in _loaded(tmp_path, argv) if m.startswith("p2pmarket.cli.")]
    shared = ["p2pmarket.cli.context", "p2pmarket.cli.lazy"]
    assert loaded == sorted([*shared, *(f"p2pmarket.cli.{m}" for m in modules)])


@pytest.mark.sqlite_only
def test_help_imports_no_markdown_parser_yet_markdown_stays_real(tmp_path):
    """Typer's rich help imports a markdown parser and a traceback renderer for modes this
    CLI does not use (cli/lazy.py): `--help` loads neither, and after it `rich.markdown`
    and what typer holds of it are the real ones."""
    loaded = _loaded(tmp_path, ["listing", "--help"])
    assert "typer.rich_utils" in loaded
    assert [m for m in loaded if m.split(".")[0] in ("markdown_it", "pygments")] == []
    assert "rich.markdown" not in loaded and "rich.traceback" not in loaded
    code = (
        "import sys\n"
        "import p2pmarket.cli\n"
        "import typer.rich_utils as help\n"
        "import rich.markdown, rich.traceback\n"
        "assert type(help.Markdown('# x')) is rich.markdown.Markdown\n"
        "assert help.Traceback.from_exception == rich.traceback.Traceback.from_exception\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.sqlite_only
def test_a_command_still_reaches_the_store(tmp_path):
    """The deferred modules load when used: `init` makes the store, `where` names it."""
    run = [sys.executable, "-m", "p2pmarket", "--home", str(tmp_path)]
    subprocess.run([*run, "init"], capture_output=True, text=True, check=True)
    out = subprocess.run([*run, "where", "--json"], capture_output=True, text=True, check=True)
    assert str(tmp_path) in out.stdout and (tmp_path / "market.db").exists()


def test_bench_cli_times_each_command_beside_python(cli):
    """`bench cli`: every command ran to its end (a failing one stops the bench), each
    with wall and CPU time and its ratio to `python -c pass`; the goals are named."""
    result = cli.json("bench", "cli", "--repeat", "1")
    rows = result["commands"]
    assert rows["python -c pass"]["x_python"] == 1.0 and len(result["load_average"]) == 3
    assert rows["p2pmarket --help"]["goal_ms"] == rows["p2pmarket where"]["goal_ms"] == 300.0
    for name, row in rows.items():
        assert row["n"] == 1 and row["p50_ms"] > 0 and row["cpu_p50_ms"] >= 0, name
    # A command that opens the store and searches costs more than one that doesn't.
    assert rows["p2pmarket search lesson"]["cpu_p50_ms"] > rows["p2pmarket where"]["cpu_p50_ms"]


def test_run_asks_the_terminal_for_graphics_while_the_app_loads(tmp_path, monkeypatch):
    # The questions wait (up to 0.1 s each, unanswered in a pseudo-terminal) in a thread
    # of their own, and their answer reaches the app.
    import threading

    from p2pmarket import config as config_mod
    from p2pmarket.cli.context import Ctx
    from p2pmarket.clock import FixedClock
    from p2pmarket.tui import app as app_mod
    from p2pmarket.tui.widgets import photo

    asked_in, ran = [], []
    monkeypatch.setattr(
        photo, "detect_graphics", lambda: asked_in.append(threading.current_thread()) or True
    )
    monkeypatch.setattr(app_mod.MarketApp, "run", lambda app: ran.append(app.graphics))
    ctx = Ctx(config=config_mod.resolve(home=tmp_path), clock=FixedClock(0))
    ctx.run_tui("demo", "a passphrase")
    assert ran == [True]
    assert asked_in and asked_in[0] is not threading.main_thread()
