"""The CLI's options behave the same everywhere: strict single-value options, -o json, -y/--yes."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from modelog.cli import docs
from modelog.cli.main import cli
from modelog.cli.strict import StrictCommand, StrictGroup

COMMANDS = [(path, ctx.command) for path, ctx in docs.walk(cli)]
#: Commands that print a verification or listing result: each takes -o json.
RESULT_COMMANDS = ("modelog log verify", "modelog projections verify", "modelog projections rebuild",
                   "modelog artifacts verify", "modelog integration list", "modelog model show",
                   "modelog model version show", "modelog model version compare", "modelog model list",
                   "modelog model version list", "modelog run show", "modelog log head", "modelog db status")
#: Commands that may ask before acting: each takes -y/--yes.
ASKING_COMMANDS = ("modelog clean", "modelog model delete", "modelog model version delete",
                   "modelog model version update", "modelog integration install", "modelog run fail")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_refuses_repeated_single_value_options(path: str, command: click.Command) -> None:
    assert isinstance(command, StrictGroup if isinstance(command, click.Group) else StrictCommand), path


def _options(path: str) -> dict[str, click.Option]:
    command = dict(COMMANDS)[path]
    return {opt: param for param in command.params if isinstance(param, click.Option) for opt in param.opts}


@pytest.mark.parametrize("path", RESULT_COMMANDS)
def test_result_commands_print_json_on_request(path: str) -> None:
    output = _options(path).get("-o")
    assert output is not None and "--output" in output.opts, path
    assert isinstance(output.type, click.Choice) and "json" in output.type.choices, path


@pytest.mark.parametrize("path", ASKING_COMMANDS)
def test_asking_commands_take_yes(path: str) -> None:
    found = _options(path)
    assert "-y" in found and "--yes" in found and found["-y"].is_flag, path


def test_a_repeated_option_is_a_usage_error_naming_it() -> None:
    result = CliRunner().invoke(cli, ["model", "list", "--sort-by", "name", "--sort-by", "updated"])
    assert result.exit_code == 2
    assert "option --sort-by was given more than once; it takes one value" in result.stderr
    repeatable = CliRunner().invoke(cli, ["model", "version", "list", "-h", "--filter", "a",
                                                         "--filter", "b"])
    assert repeatable.exit_code == 0
