"""Commands built when they are first named, not all at start.

Typer makes a Click command of a function by reading its signature: every option, and its
type hints (strings here, `from __future__ import annotations`, each evaluated) — about a
millisecond a command, 0.1 s for the ~120 of the tree, before a person's command starts.
Here a group holds its commands by name and builds one when it is looked up: `where` builds
the root and `where`; `listing show 1` the root, `listing` and `show`; help builds what it
lists. What is built is what Typer builds, from the same functions and docstrings.

Help itself is Typer's rich help (typer.rich_utils, imported when help is printed), without
the two renderers that module imports for what this CLI never shows: Markdown (for the
"markdown" markup mode; ours is "rich") and Traceback (for pretty exceptions; ours are off).
Importing them — the markdown parser, pygments — is 60-80 ms of a 0.3 s `--help`.
"""

from __future__ import annotations

import copy
import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo, TyperInfo

Command = TyperCommand | TyperGroup


class Commands(Mapping[str, Command]):
    """A group's commands by name, in the order they were registered; each is built (and
    finished) the first time it is looked up. Asking whether a name is one builds nothing."""

    def __init__(
        self, builds: dict[str, Callable[[], Command]], finish: Callable[[Command], None]
    ) -> None:
        self._builds = builds
        self._built: dict[str, Command] = {}
        self._finish = finish

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            command = self._builds[name]()
            self._finish(command)
            self._built[name] = command
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._builds

    def __iter__(self) -> Iterator[str]:
        return iter(self._builds)

    def __len__(self) -> int:
        return len(self._builds)


@dataclass(frozen=True)
class Builder:
    """Builds commands as Typer would for `root` (its markup mode, its suggestions for a
    mistyped command), then gives each `finish` (cli/__init__.py names option values)."""

    root: typer.Typer
    finish: Callable[[Command], None]

    def builds(self, app: typer.Typer) -> dict[str, Callable[[], Command]]:
        """What `app` registered, by name (its commands, then its groups, as Typer orders
        them), each as the call that builds it."""
        builds: dict[str, Callable[[], Command]] = {}
        for command in app.registered_commands:
            name = command.name or typer.main.get_command_name(command.callback.__name__)
            builds[name] = partial(self.command, command)
        for group in app.registered_groups:
            builds[typer.main.solve_typer_info_defaults(group).name] = partial(self.group, group)
        return builds

    def command(self, info: CommandInfo) -> TyperCommand:
        return typer.main.get_command_from_info(
            info,
            pretty_exceptions_short=self.root.pretty_exceptions_short,
            rich_markup_mode=self.root.rich_markup_mode,
        )

    def group(self, info: TyperInfo) -> TyperGroup:
        """The group itself (its callback, its help) built by Typer from a copy of its app
        that holds no commands; its commands then come from the app, by name."""
        app = info.typer_instance
        empty = copy.copy(app)
        empty.registered_commands, empty.registered_groups = [], []
        bare = copy.copy(info)
        bare.typer_instance = empty
        group = typer.main.get_group_from_info(
            bare,
            pretty_exceptions_short=self.root.pretty_exceptions_short,
            rich_markup_mode=self.root.rich_markup_mode,
            suggest_commands=self.root.suggest_commands,
        )
        group.commands = Commands(self.builds(app), self.finish)
        return group


class _Later(type):
    """A class that stands for `module`.`name` until used: calling it or reading an attribute
    (Traceback.from_exception) imports the real one and hands over."""

    def real(cls) -> type:
        return getattr(importlib.import_module(cls.__module__), cls.__name__)

    def __call__(cls, *args, **kwargs):
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, attr: str):
        return getattr(cls.real(), attr)


# What typer.rich_utils imports at its top for modes this CLI does not use.
_UNUSED_BY_HELP = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _HelpLoader(importlib.abc.Loader):
    """Runs typer.rich_utils with stand-ins for the unused renderers; they are gone from
    sys.modules once it has run, so any later `import rich.markdown` imports the real one."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        planted = [name for name in _UNUSED_BY_HELP if name not in sys.modules]
        for name in planted:
            stand_in = types.ModuleType(name)
            cls_name = _UNUSED_BY_HELP[name]
            setattr(stand_in, cls_name, _Later(cls_name, (), {"__module__": name}))
            sys.modules[name] = stand_in
        try:
            self._loader.exec_module(module)
        finally:
            for name in planted:
                del sys.modules[name]


class _HelpFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "typer.rich_utils":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        spec.loader = _HelpLoader(spec.loader)
        return spec


def light_help() -> None:
    """Typer's help, when printed, imports no markdown parser and no traceback renderer."""
    if "typer.rich_utils" not in sys.modules:
        sys.meta_path.insert(0, _HelpFinder())
