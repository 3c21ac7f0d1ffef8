"""The ``modelog`` command: the root group, logging set-up and the one place errors become exit codes.

Command modules are registered by name in :data:`COMMANDS` (one line each) and must stay light
at import time: heavy modules (SQLAlchemy, pydantic, scikit-learn) are imported inside commands.
"""

from __future__ import annotations

import importlib
import sys

import click
from modelog.cli.logs import configure_logging, log_traceback
from modelog.cli.output import escape_controls

#: Every top-level command or group, as "module:attribute". Add a group here with one line.
COMMANDS = (
    "modelog.cli.admin:clean",
    "modelog.cli.admin:db",
    "modelog.cli.admin:integration",
    "modelog.cli.models:model",
    "modelog.cli.eventlog:log",
    "modelog.cli.eventlog:export",
    "modelog.cli.eventlog:import_",
    "modelog.cli.projections_cmd:projections",
    "modelog.cli.artifacts_cmd:artifacts",
    "modelog.cli.runs:run",
)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ModelogGroup(click.Group):
    """The root group: turns every failure below it into one ``Error: ...`` line and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the chosen command, mapping registry/SDK errors (and anything unexpected) to a ClickException."""
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            raise made_safe(error) from error.__cause__
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - the CLI's last line of defence: one line, no traceback
            log_traceback(error)
            raise made_safe(click.ClickException(describe_error(error))) from None

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: object) -> click.Context:
        """Parse the root options; a usage error echoes the rejected text with control characters escaped."""
        try:
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[arg-type]
        except click.ClickException as error:
            raise made_safe(error) from error.__cause__


@click.group("modelog", cls=ModelogGroup, context_settings=CONTEXT_SETTINGS)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages (and tracebacks of unexpected errors).")
@click.option("--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True,
              help="How log lines on stderr are written.")
@click.version_option(package_name="modelog", prog_name="modelog")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, log_format: str) -> None:
    """modelog: an event-sourced model registry.

    Every change is an immutable event in an append-only, hash-chained log; every
    listing is a projection of that log, answerable as of any past moment.

    The registry is $MODELOG_DATABASE_URL, else the SQLite file in $MODELOG_HOME
    (default ~/.modelog). Shell completion: eval "$(_MODELOG_COMPLETE=bash_source modelog)".

    \b
    Example:
      modelog model list
    """
    ctx.obj = {"verbose": verbose}
    configure_logging(verbose=verbose, fmt=log_format)


def _register(group: click.Group, specs: tuple[str, ...]) -> None:
    for spec in specs:
        module_name, attribute = spec.split(":")
        group.add_command(getattr(importlib.import_module(module_name), attribute))


_register(cli, COMMANDS)


def _is_known_error(error: Exception) -> bool:
    """Errors whose message is meant for the user: the registry's tree (the SDK's errors derive from it)."""
    from modelog.registry.errors import RegistryError

    return isinstance(error, RegistryError)


def made_safe(error: click.ClickException) -> click.ClickException:
    """``error`` with control characters in its message escaped (it may quote what the user typed)."""
    error.message = escape_controls(error.message)
    return error


def describe_error(error: Exception) -> str:
    """The one line a user sees for ``error`` (after ``Error: ``)."""
    if _is_known_error(error):
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: ``Error: ...`` and exit 1 for any failure, exit 2 for usage errors, never a traceback."""
    try:
        cli.main(args=argv, prog_name="modelog")
    except Exception as error:  # noqa: BLE001 - failures outside any command (should not happen)
        log_traceback(error)
        click.echo(f"Error: {escape_controls(describe_error(error))}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
