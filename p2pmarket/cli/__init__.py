"""The command line: thin. Parses, calls services, prints (rich for people, --json for scripts).

Exit codes: 0 ok, 1 refused by a rule, 2 bad usage or input. A person's mistake is
one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import functools
import gc
import importlib
import re
import sys
from collections.abc import Callable

import typer
from typer.core import TyperGroup

from p2pmarket import config as config_mod
from p2pmarket.cli import lazy
from p2pmarket.cli.context import Ctx, error, warn
from p2pmarket.errors import Invalid, MarketError


def _undecodable(args: list[str]) -> Invalid | None:
    """The first argument that is not text: non-UTF-8 bytes (which Python keeps as surrogate
    escapes) or a lone surrogate. No command can store, look up or print it."""
    for position, word in enumerate(args, start=1):
        if not any("\ud800" <= ch <= "\udfff" for ch in word):
            continue
        where = f"argument {position}"
        if word.startswith("--") and "=" in word:
            where += f" (the value of {word.split('=', 1)[0]})"
        elif position > 1 and args[position - 2].startswith("-"):
            where += f" (after {args[position - 2]})"
        return Invalid(
            "argument_not_text",
            f"The command line's {where} is not valid UTF-8 text: retype it "
            "(or rename the file it names).",
        )
    return None


# Typer parses with its own copy of click; its UsageError (a mistake on the command line,
# the base of BadParameter, NoSuchOption, MissingParameter) is found through the one it exports.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _usage_line(exc: Exception) -> str:
    """A usage mistake as one line: what is wrong, and where the command's help is."""
    where = exc.ctx.command_path if exc.ctx else "p2pmarket"
    option = getattr(exc, "option_name", None)
    what = " ".join(exc.format_message().split())
    if option and re.fullmatch(r"-[0-9][0-9.,]*", option):
        what = f"{option} is not an option; amounts, quantities and ids are positive."
    elif "valid integer" in what and hasattr(exc.__cause__, "errors"):
        # Typer checks whole numbers with pydantic, whose sentence names no value.
        value = exc.__cause__.errors()[0].get("input")
        what = f"{what.split(':')[0]}: {value!r} is not a whole number."
    return f"{what.rstrip('.')}. See `{where} --help`."


# What --help names an option's value by (Typer's own words are `<str>`, `<int>`, `<bool>`).
_VALUE_WORDS = {"str": "TEXT", "int": "NUMBER", "float": "NUMBER", "Path": "PATH"}


class _AsTyped:
    """A text option's value as typed (argv and the environment hold text), a flag's as
    parsed. Typer checks every value with a pydantic validator it builds on first use, also
    that a str is a str, or an absent option's None: importing pydantic and building them is
    0.2 s of `where`, which has no other use for pydantic. Numbers, choices and paths keep
    Typer's checks (and their sentences). Typer keeps a parameter's checker in
    `_runtime_param`, built when still None (tests/cli/test_startup.py sees pydantic load
    if that changes)."""

    @staticmethod
    def coerce(value, param, ctx):
        return value


def _finish(command) -> None:
    """Name every option's value in words, and a flag's not at all, unless it says its own;
    take text and flags as typed."""
    shown = command.get_help_option(typer.Context(command))
    for param in [*command.params, *([shown] if shown else [])]:
        if param.param_type_name == "option" and param.metavar is None:
            if param.is_flag:
                param.metavar = ""
            else:
                param.metavar = _VALUE_WORDS.get(param.bare_type())
        typed = param.type_descriptor
        if typed.parameter_info.parser is None and (
            typed.annotation is str or (typed.annotation is bool and param.is_flag)
        ):
            param._runtime_param = _AsTyped


# Every command, by the module of p2pmarket/cli whose register() adds it, in the order --help
# lists them: a command imports and builds its own module's commands only (cli/lazy.py).
COMMANDS = {
    "run": "market",
    "init": "market",
    "where": "market",
    "seed": "market",
    "load": "market",
    "demo": "market",
    "areas": "market",
    "screenshots": "market",
    "verify": "records",
    "backup": "records",
    "restore": "records",
    "export": "records",
    "verify-export": "records",
    "history": "records",
    "review": "trust",
    "report": "trust",
    "profile": "trust",
    "reindex": "discovery",
    "unwatch": "inbox",
    "migrate": "migrate",
    "user": "users",
    "listing": "listings",
    "bench": "bench",
    "wallet": "money",
    "order": "money",
    "offer": "offers",
    "plan": "plans",
    "contact": "trust",
    "chat": "trust",
    "privacy": "trust",
    "credit": "trust",
    "search": "discovery",
    "price": "discovery",
    "inbox": "inbox",
    "watch": "inbox",
}


@functools.cache
def _registered(module: str) -> dict[str, Callable[[], lazy.Command]]:
    """What p2pmarket/cli/`module`.py registers, by name, each as the call that builds it."""
    app = typer.Typer()
    importlib.import_module(f"p2pmarket.cli.{module}").register(app)
    return _build.builds(app)


class _Group(TyperGroup):
    """The root: its commands are built when named; catches the domain's refusals once,
    at the edge."""

    def __init__(self, *args, **options) -> None:
        super().__init__(*args, **options)
        _finish(self)
        self.commands = lazy.Commands(
            {name: functools.partial(_command, module, name) for name, module in COMMANDS.items()},
            _finish,
        )

    def main(self, args=None, *rest, **options):
        # Checked before any parsing, so every command (and `run`) is covered at once.
        args = sys.argv[1:] if args is None else list(args)
        bad = _undecodable(args)
        if bad is not None:
            error(bad.message)
            sys.exit(bad.exit_code)
        if options.pop("standalone_mode", True) is False:
            return super().main(args, *rest, standalone_mode=False, **options)
        # Click's own handling would print a usage box: every mistake is one line, exit 2.
        try:
            code = super().main(args, *rest, standalone_mode=False, **options)
        except UsageError as exc:
            # A group named without a command has printed its help (as Typer itself tells
            # that error apart: by its name): nothing more to say.
            if type(exc).__name__ != "NoArgsIsHelpError":
                error(_usage_line(exc))
            sys.exit(2)
        except typer.Abort:
            error("Stopped.")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            done = super().invoke(ctx)
            # A read on a store that fails verify goes on, and says so once (a write is
            # refused with that same sentence).
            damage = ctx.obj.damage if isinstance(ctx.obj, Ctx) else None
            if damage:
                warn(damage)
            return done
        except MarketError as exc:
            error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        finally:
            if isinstance(ctx.obj, Ctx):
                ctx.obj.close()


def _root(
    ctx: typer.Context,
    home: str | None = typer.Option(
        None, "--home", help="Market folder (default: P2PMARKET_HOME or your data dir)."
    ),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL (default: P2PMARKET_DB)."),
) -> None:
    ctx.obj = Ctx(config=config_mod.resolve(home=home, db=db), clock=config_mod.clock_from_env())


def _command(module: str, name: str):
    return _registered(module)[name]()


app = typer.Typer(
    cls=_Group,
    help="p2pmarket: a local-first, peer-to-peer marketplace in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(_root)
_build = lazy.Builder(app, _finish)
lazy.light_help()


def main() -> None:
    try:
        app()
    finally:
        # The command is done (its store closed, its output written): the interpreter's
        # last garbage collections would walk every SQLAlchemy, pydantic and Textual object
        # for 0.3-0.6 s before the process ends (bench tui: quit). Exit handlers still run.
        gc.freeze()
