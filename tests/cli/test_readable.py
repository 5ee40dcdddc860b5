"""Every read command on the demo market speaks to people: no True/False/None, no dict or
list reprs, no epoch seconds (#13: `chat show` printed `blocked: False`, a credit dict and
`member_since: 1789371565`)."""

import pytest

from tests.conftest import PYTHON_VALUE

READS = [
    ("where",),
    ("areas",),
    ("verify",),
    ("history", "--as", "demo"),
    ("search", "bike", "--as", "demo"),
    ("listing", "list"),
    ("listing", "show", "1"),
    ("wallet", "show", "--as", "demo"),
    ("order", "list", "--as", "demo"),
    ("order", "show", "1", "--as", "demo"),
    ("contact", "list", "--as", "demo"),
    ("chat", "list", "--as", "demo"),
    ("chat", "show", "lin_piano", "--as", "demo"),
    ("privacy", "show", "--as", "demo"),
    ("profile", "lin_piano", "--as", "demo"),
    ("credit", "show", "lin_piano"),
    ("user", "list"),
    ("user", "show", "lin_piano"),
    ("price", "suggest", "--category", "bicycles", "--unit", "day", "--as", "demo"),
    ("listing", "categories"),
    ("backup", "--list"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.cli.conftest import Cli

    cli = Cli(tmp_path_factory.mktemp("readable") / "home")
    cli("demo")
    return cli


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_read_commands_print_no_python_values(demo, args):
    out = demo(*args, COLUMNS="200").stdout
    assert out.strip()
    assert not PYTHON_VALUE.search(out), PYTHON_VALUE.search(out).group(0)
