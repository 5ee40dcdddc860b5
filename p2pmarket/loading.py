"""Loading the store's code (SQLAlchemy, SQLModel, the tables, the services) at its first use:
most of the CPU of a store command, and of the TUI between the home's frame and its data."""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from types import ModuleType


def load(name: str) -> ModuleType:
    """The module `name`, imported the first time with the garbage collector off. What an
    import builds lives as long as the process, so the collector, which would walk it again
    and again while it loads (a tenth of that time or more), leaves it out of every later
    full collection too (gc.freeze; the imports leave a few hundred objects of garbage)."""
    module = sys.modules.get(name)
    if module is not None and not getattr(module.__spec__, "_initializing", False):
        return module
    # Not imported, or still importing in another thread (`start`): import_module waits
    # for that thread's import to end, where the module alone would be half made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def start(name: str) -> None:
    """Begin loading `name` in the background, for a later `load` (which waits for it).

    A daemon thread: a process ending meanwhile (quit at once) does not wait for it."""
    threading.Thread(target=load, args=(name,), name=f"loading {name}", daemon=True).start()
