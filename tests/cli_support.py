"""Running the CLI in-process for tests."""

from __future__ import annotations

from click.testing import CliRunner, Result
from modelog.cli.main import cli


def run(*args: str, input: str | None = None) -> Result:
    """Invoke the CLI in-process (the environment points it at the test registry)."""
    return CliRunner().invoke(cli, list(args), input=input)
