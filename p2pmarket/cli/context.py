"""What every command shares: the resolved config, the store (opened on first use),
the clock, who is acting, and how results are printed (rich for people, JSON for scripts)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text
from typer.core import TyperGroup

from p2pmarket import config as config_mod
from p2pmarket import loading, money
from p2pmarket.clock import Clock, iso
from p2pmarket.errors import Invalid
from p2pmarket.text import strip_all, strip_controls

if TYPE_CHECKING:  # the store (SQLAlchemy) loads on first use: `run` draws before it
    from rich.progress import Progress

    from p2pmarket.market import Actor, Market


class Later:
    """A module imported at its first use, not when the CLI starts: `--help` and `where`
    wait for none of the store's code (SQLAlchemy and the services cost a second)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(loading.load(self._name), attr)


PASSPHRASE_ENV = "P2PMARKET_PASSPHRASE"
NEW_PASSPHRASE_ENV = "P2PMARKET_NEW_PASSPHRASE"

AsOption = typer.Option(
    ..., "--as", metavar="HANDLE", help="Act as this user (passphrase from prompt or env)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Ctx:
    config: config_mod.Config
    clock: Clock
    # False for `backup`, which makes one itself (its failure is then said once, not twice).
    daily_backup: bool = True
    _market: Market | None = field(default=None, repr=False)

    @property
    def market(self) -> Market:
        """The market, opened on first use: its timers and the daily backup run then."""
        if self._market is None:
            market = loading.load("p2pmarket.market")
            self._market = market.Market.open(self.config, self.clock)
            self._market.tick()
            warning = self._market.daily_backup() if self.daily_backup else None
            if warning:
                warn(warning)
        return self._market

    @property
    def damage(self) -> str | None:
        """Why the store is read-only, if the market was opened and fails verify."""
        return self._market.damage if self._market is not None else None

    def close(self) -> None:
        if self._market is not None:
            self._market.close()
            self._market = None

    def run_tui(self, handle: str | None, passphrase: str | None = None) -> None:
        """Open the TUI; `handle` skips the login screen (checked with `passphrase` when given).

        The terminal is asked whether it draws pixels before the app starts (Textual's input
        thread would take its answers): up to 0.1 s per question, the whole wait when it
        does not answer (a pseudo-terminal, most terminals to one of them). The store's code
        loads meanwhile (the asking waits with the GIL free) for the startup worker (tui/app.py
        `_open_store`), not after the first frame (bench tui).

        The app's code is imported first: the asking imports Textual's widgets, and two
        threads entering Textual's import cycles at different modules at once fail with a
        circular import (about one start in a dozen did)."""
        from concurrent.futures import ThreadPoolExecutor

        from p2pmarket.tui.app import MarketApp

        with ThreadPoolExecutor(1, thread_name_prefix="graphics") as asking:
            graphics = asking.submit(_detect_graphics)
            loading.start("p2pmarket.market")
            app = MarketApp(
                config=self.config,
                clock=self.clock,
                user=handle,
                passphrase=passphrase,
                draw_first=True,
                graphics=graphics.result(),
            )
        app.run()

    @staticmethod
    def need_terminal(command: str) -> None:
        """The app draws on a terminal and reads keys from one; a pipe or /dev/null has no keys
        to read, and the app would wait on it forever (at full CPU)."""
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise Invalid(
                "no_terminal",
                f"{command} opens the terminal app: run it in a terminal (stdin and stdout "
                "are not one here); scripts use the other commands.",
            )

    def passphrase(self, handle: str) -> str:
        if os.environ.get(PASSPHRASE_ENV):
            return os.environ[PASSPHRASE_ENV]
        if not sys.stdin.isatty():
            raise Invalid(
                "passphrase_missing",
                f"Acting as {handle!r} needs a passphrase: set {PASSPHRASE_ENV} "
                "or run in a terminal.",
            )
        return typer.prompt(f"Passphrase for {handle}", hide_input=True)

    def new_passphrase(self, handle: str) -> str:
        if os.environ.get(NEW_PASSPHRASE_ENV):
            return os.environ[NEW_PASSPHRASE_ENV]
        if not sys.stdin.isatty():
            raise Invalid(
                "passphrase_missing",
                f"A new passphrase for {handle!r}: set {NEW_PASSPHRASE_ENV} or run in a terminal.",
            )
        return typer.prompt(
            f"New passphrase for {handle}", hide_input=True, confirmation_prompt=True
        )

    def actor(self, handle: str) -> Actor:
        """The user acting in this command, once their passphrase is checked."""
        return self.market.actor(handle, self.passphrase(handle))


def ctx_of(ctx: typer.Context) -> Ctx:
    return ctx.find_root().obj


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(strip_all(data), ensure_ascii=False, indent=2) + "\n")
    else:
        render()


# Everything the CLI prints goes through say, table, emit or error, and so through the same
# strip_controls as storing and the TUI: a stored row never written through the cleaning
# rules (an older version, another tool) still can't move a terminal's cursor.


def say(message: str) -> None:
    """A line for people. User text inside it is data: printed as Text, never markup."""
    console.print(Text(strip_controls(message)))


def error(message: str) -> None:
    """One line on stderr: why, and what to do."""
    err_console.print(Text(strip_controls(f"error: {message}")))


def warn(message: str) -> None:
    """One line on stderr about something that failed beside the command, which went on."""
    err_console.print(Text(strip_controls(f"warning: {message}")))


def table(columns: list[str | Column], rows: list[list[Any]], title: str | None = None) -> None:
    grid = Table(*columns, title=title and strip_controls(title), title_justify="left")
    for row in rows:
        grid.add_row(*(Text(strip_controls(str(cell))) for cell in row))
    console.print(grid)


def progress_bar(label: str, as_json: bool) -> Progress:
    """A bar for long work, with its count and time (none under --json). rich.progress
    loads here, when the work starts, not with every command."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, disable=as_json)


def fact(field: str, value: object) -> str:
    """A published fact as a person reads it: yes/no, dates, yuan, no Python values."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field in ("member_since", "created_at"):
        return iso(value)
    if field == "spent":
        return money.fmt(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


class DefaultGroup(TyperGroup):
    """A group whose first word, unless it names one of its commands, belongs to its
    default command: `search bike` is `search find bike`, while `search saved` is the
    command `saved`. Subclasses name the default (`default_group`)."""

    default = ""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def default_group(command: str) -> type[DefaultGroup]:
    return type(f"DefaultGroup_{command}", (DefaultGroup,), {"default": command})


def _detect_graphics() -> bool:
    from p2pmarket.tui.widgets.photo import detect_graphics

    return detect_graphics()
