"""The ``modelog`` command: the root group, logging set-up and the one place errors become exit codes.

The root group is lazy: each top-level command is registered by name in :data:`COMMANDS` with
the module that defines it, which is imported only when that command runs (``modelog --help``
imports none of them). Command modules therefore import what they need at the top.
"""

from __future__ import annotations

import importlib
import sys

import click
from modelog.cli.logs import configure_logging, log_traceback
from modelog.cli.output import escape_controls
from modelog.cli.strict import StrictGroup

#: Every top-level command: its name, where it is defined ("module:attribute") and the one line
#: ``modelog --help`` shows for it (a test checks it against the command's own help).
COMMANDS: dict[str, tuple[str, str]] = {
    "artifacts": ("modelog.cli.artifacts_cmd:artifacts",
                  "Check the artifact store against the log; download an artifact."),
    "clean": ("modelog.cli.admin:clean",
              "Wipe the registry (database and the configured artifact store) after confirmation."),
    "db": ("modelog.cli.admin:db", "Inspect and upgrade the registry database schema."),
    "export": ("modelog.cli.eventlog:export",
               "Export the registry to FILE: its events and every artifact file they refer to (--log-only: JSON "
               "Lines)."),
    "import": ("modelog.cli.eventlog:import_",
               "Import a bundle or JSON Lines file written by 'modelog export' into an empty registry."),
    "import-mlflow": ("modelog.cli.mlflow_cmd:import_mlflow_cmd",
                      "Copy an MLflow model registry (models, versions, tags, aliases, stages) into the log."),
    "integration": ("modelog.cli.admin:integration", "List and install optional integrations (pip extras of modelog)."),
    "keys": ("modelog.cli.keys_cmd:keys", "Make and show Ed25519 keys that sign the log (MODELOG_SIGNING_KEY)."),
    "log": ("modelog.cli.eventlog:log", "Show and verify the append-only, hash-chained event log."),
    "model": ("modelog.cli.models:model",
              "Register, list, update, rename and delete models, and see their history."),
    "projections": ("modelog.cli.projections_cmd:projections",
                    "Rebuild or verify the read models (model, version and artifact views) from the log."),
    "run": ("modelog.cli.runs:run", "List and inspect pipeline runs; close a run whose process died."),
    "server": ("modelog.cli.server_cmd:server", "Serve the registry over HTTP to remote clients (MODELOG_URL)."),
    "principal": ("modelog.cli.identity_cmd:principal",
                  "Add, list and disable principals: the identities API tokens belong to."),
    "grant": ("modelog.cli.access_cmd:grant",
              "Grant principal NAME a ROLE (viewer < contributor < maintainer < admin, each including the lower "
              "ones)."),
    "revoke": ("modelog.cli.access_cmd:revoke", "Revoke a ROLE principal NAME holds (registry-wide, or on --model "
                                                "MODEL)."),
    "policy": ("modelog.cli.access_cmd:policy",
               "Protect stages: how many approvals a move into staging or production needs."),
    "token": ("modelog.cli.identity_cmd:token",
              "Create, list and revoke API tokens for the team server (MODELOG_TOKEN)."),
}

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ModelogGroup(StrictGroup):
    """The root group: loads a command's module only when it runs, and turns every failure below it
    into one ``Error: ...`` line and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, without importing any command module."""
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, importing its module on first use (None: no such command)."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{COMMANDS[cmd_name][0]} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``modelog --help``, from :data:`COMMANDS` (no command module is imported)."""
        names = [name for name in self.list_commands(ctx) if name in COMMANDS]
        # Shortened as click shortens a command's own help, to the room the terminal leaves.
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = [(name, _shortened(COMMANDS[name][1], limit)) for name in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
            if parent is None:
                _check_arguments(args)
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:
            raise made_safe(error) from error.__cause__


def _shortened(text: str, limit: int) -> str:
    """``text`` cut after its last whole word that leaves room for "..." within ``limit`` characters."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for word in text.split():
        if len(" ".join([*kept, word])) > limit - 3:
            break
        kept.append(word)
    return " ".join(kept) + "..."


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


def _is_known_error(error: Exception) -> bool:
    """Errors whose message is meant for the user: the registry's tree (the SDK's errors derive from it)."""
    from modelog.registry.errors import RegistryError

    return isinstance(error, RegistryError)


def made_safe(error: click.ClickException) -> click.ClickException:
    """``error`` with control characters in its message escaped (it may quote what the user typed)."""
    # click declares ``message`` Final, but the exception raised must stay the same object (its type
    # decides the exit status and usage hint), so the escaped text replaces the raw one in place.
    error.message = escape_controls(error.message)  # type: ignore[misc]
    return error


def describe_error(error: Exception) -> str:
    """The one line a user sees for ``error`` (after ``Error: ``)."""
    if _is_known_error(error):
        return str(error)
    from modelog.registry.errors import as_registry_error

    known = as_registry_error(error)
    if known is not None:
        return str(known)
    return f"unexpected {type(error).__name__}: {error}"


def _check_arguments(args: list[str]) -> None:
    """Refuse an argument that is not valid text (undecodable bytes) as a usage error, before any command runs."""
    from modelog.registry.errors import surrogate_in

    for number, arg in enumerate(args, start=1):
        bad = surrogate_in(arg)
        if bad:
            raise click.UsageError(f"argument {number} ({arg!r}) is not valid UTF-8 text: it holds {bad} "
                                   "where the bytes could not be decoded")


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
