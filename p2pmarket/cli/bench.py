"""`p2pmarket bench …`: benchmarks with a naive baseline in the same run."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: our plan against a naive one, in the same run.")
