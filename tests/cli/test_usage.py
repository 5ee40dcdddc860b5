"""A mistake on the command line is one line naming it and the command's help, exit 2:
never Click's usage box, never a traceback, nothing written."""

import pytest

MISTAKES = {
    (
        "order",
        "pay",
        "abc",
        "--as",
        "demo",
    ): "Invalid value for 'order_ids': 'abc' is not a whole number",
    (
        "wallet",
        "topup",
        "-5",
        "--as",
        "demo",
    ): "-5 is not an option; amounts, quantities and ids are positive",
    ("wallet", "topup", "5", "--as", "demo", "--bogus"): "No such option: --bogus",
    ("order", "show"): "Missing argument 'order_id'",
    ("nonexist",): "No such command 'nonexist'",
    ("listing", "add", "--as", "demo"): "Missing option '--kind'",
}


@pytest.mark.parametrize("args", list(MISTAKES), ids=" ".join)
def test_a_usage_mistake_is_one_line_with_where_help_is(demo_cli, args):
    before = demo_cli("wallet", "show", "--as", "demo", "--json").stdout
    result = demo_cli(*args, code=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {MISTAKES[args]}.")
    assert lines[0].endswith("--help`.") and "╭" not in result.output
    assert demo_cli("wallet", "show", "--as", "demo", "--json").stdout == before


@pytest.mark.parametrize("group", ["user", "listing", "order"])
def test_a_group_named_alone_shows_its_help_and_nothing_else(demo_cli, group):
    result = demo_cli(group, code=2)
    assert "Commands" in result.output
    assert "error" not in result.stderr


def test_help_and_refusals_keep_their_exit_codes(demo_cli):
    assert "Usage" in demo_cli("wallet", "--help").stdout
    refused = demo_cli("wallet", "withdraw", "999999", "--as", "demo", code=1)
    assert refused.stderr.startswith("error: ")


@pytest.mark.parametrize("args", [("order", "create"), ("search",), ("listing", "add"), ()])
def test_help_names_values_in_words(demo_cli, args):
    shown = demo_cli(*args, "--help").stdout
    options = shown[shown.index("Options") :]
    # Typer's own labels are `<str>`, `<int>`, `<bool>`; a flag names no value at all.
    assert "<str>" not in options and "<bool>" not in options and "<int>" not in options
    assert "TEXT" in options
