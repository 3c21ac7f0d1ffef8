"""Every command documents itself, and docs/cli.md is exactly what ``--help`` says."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from modelog.cli import docs
from modelog.cli.main import COMMANDS as LAZY_COMMANDS
from modelog.cli.main import cli

COMMANDS = [(path, ctx.command) for path, ctx in docs.walk(cli)]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_a_summary_and_an_example(path: str, command: click.Command) -> None:
    assert command.help and command.help.strip(), f"{path} has no help text"
    assert command.get_short_help_str(), f"{path} has no one-line summary"
    assert "Example:" in command.help and "modelog " in command.help.split("Example:")[1], path
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{path} option {param.opts} has no help text"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS])
def test_short_help_flag_works_everywhere(path: str) -> None:
    result = CliRunner().invoke(cli, [*path.split()[1:], "-h"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: {path}")


def test_cli_reference_matches_help() -> None:
    stale = "docs/cli.md is stale: python -m modelog.cli.docs"
    assert docs.DOC_PATH.read_text(encoding="utf-8") == docs.render(), stale


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_root_help_line_is_the_commands_own_summary(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name in (name, name + "_")
    assert LAZY_COMMANDS[name][1] == command.get_short_help_str(limit=10_000)


def test_root_help_lists_every_command_without_importing_them() -> None:
    lines = CliRunner().invoke(cli, ["--help"]).stdout.split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(LAZY_COMMANDS)


def test_completion_is_documented() -> None:
    assert "_MODELOG_COMPLETE=bash_source modelog" in docs.render()


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["modle"])
    assert result.exit_code == 2
    assert "Error: No such command 'modle'." in result.stderr
