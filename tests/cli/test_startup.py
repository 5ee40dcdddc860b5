"""A person's `--help` and `where` wait for none of the store's code (#13 item 18): the
command modules name the market's modules, loaded only when a command uses them."""

import subprocess
import sys

import pytest

STORE_CODE = (
    "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')"
    " or m in ('p2pmarket.store.engine', 'p2pmarket.models')"
    " or m.startswith(('p2pmarket.services', 'p2pmarket.market'))]\n"
)


@pytest.mark.parametrize(
    "argv", [["--help"], ["where"], ["listing", "--help"], ["order", "pay", "--help"]]
)
def test_help_and_where_load_no_store(tmp_path, argv):
    code = (
        "import sys\n"
        "import p2pmarket.cli as cli\n"
        f"sys.argv = ['p2pmarket', '--home', {str(tmp_path)!r}, *{argv!r}]\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"{STORE_CODE}"
        "print('LOADED', ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("LOADED"), out.stdout[-300:]
    assert not (tmp_path / "market.db").exists()  # where opens (and makes) no store


def test_a_command_still_reaches_the_store(tmp_path):
    """The deferred modules load when used: `init` makes the store, `where` names it."""
    run = [sys.executable, "-m", "p2pmarket", "--home", str(tmp_path)]
    subprocess.run([*run, "init"], capture_output=True, text=True, check=True)
    out = subprocess.run([*run, "where", "--json"], capture_output=True, text=True, check=True)
    assert str(tmp_path) in out.stdout and (tmp_path / "market.db").exists()
