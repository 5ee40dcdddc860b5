import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from p2pmarket.cli import app

# `listing add` of a book by the demo user: add "--title" and "--price" (and more).
ADD_BOOK = (
    "listing",
    "add",
    "--as",
    "demo",
    "--kind",
    "goods",
    "--category",
    "books",
    "--unit",
    "item",
)


class Cli:
    """Runs the real CLI (Typer's runner) against a real home folder."""

    def __init__(self, home, passphrase="market-demo-2026"):
        self.home = home
        self.env = {"P2PMARKET_PASSPHRASE": passphrase, "P2PMARKET_NOW": "2026-11-01T09:00:00"}
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0, **env):
        result = self.runner.invoke(app, ["--home", str(self.home), *args], env={**self.env, **env})
        if code is not None:
            assert result.exit_code == code, (result.output, result.exception)
        if result.exit_code in (0, 1, 2):
            assert "Traceback" not in result.output
        return result

    def json(self, *args: str, **env):
        return json.loads(self(*args, "--json", **env).stdout)

    def subprocess(self, *args: str, **env) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **self.env, **env}
        return subprocess.run(
            [sys.executable, "-m", "p2pmarket", "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
        )


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path / "home")


@pytest.fixture
def demo_cli(cli):
    cli("demo")
    return cli
