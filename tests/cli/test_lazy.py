"""The CLI builds a command when it is named (cli/lazy.py, #13 item 18). What it builds is
what Typer builds from the command modules all at once: the same commands, in the order of
cli.COMMANDS, with the same help, options and metavars."""

import importlib

import pytest
import typer
import typer.main

from p2pmarket import cli


def _at_once(module: str):
    """What p2pmarket/cli/`module`.py registers, built by Typer at once, values named as
    the CLI names them."""
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, even for a module of one command
    importlib.import_module(f"p2pmarket.cli.{module}").register(app)
    built = typer.main.get_command(app)

    def finish(command):
        cli._finish(command)
        for sub in getattr(command, "commands", {}).values():
            finish(sub)

    finish(built)
    return built.commands


def _shape(command) -> dict:
    """What --help shows of a command and how its line is parsed."""
    seen = ("name", "opts", "secondary_opts", "metavar", "default", "required", "multiple")
    # An Argument has no help and is never hidden.
    params = [
        [getattr(p, what, None) for what in (*seen, "hidden", "help")] for p in command.params
    ]
    return {
        "class": type(command).__name__,
        "help": command.help,
        "short_help": command.short_help,
        "hidden": command.hidden,
        "no_args_is_help": getattr(command, "no_args_is_help", None),
        "params": params,
        "commands": {name: _shape(sub) for name, sub in getattr(command, "commands", {}).items()},
    }


@pytest.fixture(scope="module")
def root():
    return typer.main.get_command(cli.app)


def test_the_table_names_what_each_module_registers(root):
    for module in set(cli.COMMANDS.values()):
        assert list(_at_once(module)) == [n for n, m in cli.COMMANDS.items() if m == module]
    assert list(root.commands) == list(cli.COMMANDS)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_a_command_built_when_named_is_the_one_typer_builds(root, name):
    assert _shape(root.commands[name]) == _shape(_at_once(cli.COMMANDS[name])[name])


def test_naming_a_command_builds_its_path_only(monkeypatch):
    built = []
    real = typer.main.get_command_from_info

    def counted(info, **settings):
        command = real(info, **settings)
        built.append(command.name)
        return command

    monkeypatch.setattr(typer.main, "get_command_from_info", counted)
    root = typer.main.get_command(cli.app)
    assert "listing" in root.commands and "nonexist" not in root.commands and built == []
    assert root.commands["listing"].commands["show"].name == "show"
    assert built == ["show"]  # not the 14 other listing commands, nor the ~100 others
