"""``modelog clean``, ``modelog db upgrade|status`` and ``modelog integration list|install``."""

from __future__ import annotations

import subprocess

import click
from modelog.application.admin import (
    INTEGRATIONS,
    RegistryLocation,
    backup_path,
    count_events,
    get_integration,
    has_registry,
    locate_registry,
    wipe_registry,
    write_backup,
)
from modelog.application.bootstrap import database_status, upgrade_database
from modelog.cli.common import confirm, is_interactive, output_option, yes_option
from modelog.cli.output import echo, echo_json, echo_table
from modelog.cli.strict import StrictCommand, StrictGroup


@click.command(cls=StrictCommand, name="clean")
@yes_option
@click.option("--no-backup", is_flag=True, help="Do not write a backup bundle (log and artifacts) first.")
@click.option("--database-name", metavar="NAME",
              help="Confirm wiping a server database (PostgreSQL) by its name; -y alone does not wipe one.")
def clean(yes: bool, no_backup: bool, database_name: str | None) -> None:
    """Wipe the registry (database and the configured artifact store) after confirmation.

    A backup bundle of the log and its artifact files is written first to <home>/backups/ (unless
    --no-backup) and its path is printed; 'modelog import FILE' restores it. A server database
    (MODELOG_DATABASE_URL) is wiped only when its name is typed at the prompt or given with
    --database-name NAME; -y is not enough.

    \b
    Example:
      modelog clean -y
      MODELOG_DATABASE_URL=postgresql+psycopg://user@host/registry modelog clean --database-name registry
    """
    location = locate_registry()
    if not has_registry(location):
        where = location.home if location.is_sqlite else location.display_url()
        echo(f"Nothing to clean: there is no registry in {where}.")
        return
    if location.is_sqlite:
        confirm(f"wipe the registry {_target(location)}", yes)
    else:
        _confirm_database(location, database_name)
    if not no_backup:
        _backup(location)
    removed = wipe_registry(location)
    echo(f"Registry wiped ({len(removed)} item(s) removed from {_target(location)}).")


def _confirm_database(location: RegistryLocation, given: str | None) -> None:
    """A server database is wiped only when its name is given (flag or prompt) and matches."""
    expected = location.database_name
    if given is None:
        if not is_interactive():
            raise click.ClickException(f"refusing to wipe the database {location.display_url()}: pass "
                                       f"--database-name {expected} to confirm (-y is not enough for a server "
                                       "database)")
        given = click.prompt(f"Wipe {_target(location)}? Type the database name ({expected}) to confirm",
                             default="", show_default=False)
    if given != expected:
        raise click.ClickException(f"the database is named {expected!r}, not {given!r}; nothing was wiped")


def _target(location: RegistryLocation) -> str:
    if location.is_sqlite:
        return f"{location.sqlite_path} and artifacts in {location.artifacts_dir}"
    return f"in database {location.display_url()} and artifacts in {location.artifacts_dir}"


def _backup(location: RegistryLocation) -> None:
    if count_events(location) == 0:
        echo("The log is empty; no backup needed.")
        return
    path = backup_path(location)
    done = write_backup(location, path)
    echo(f"Backup of {done.events} events and {done.artifacts} artifact files written to {path} "
               f"(restore with: modelog import {path}).")


@click.group(cls=StrictGroup, name="db")
def db() -> None:
    """Inspect and upgrade the registry database schema.

    \b
    Example:
      modelog db status
    """


@db.command("upgrade")
def upgrade() -> None:
    """Upgrade the registry database in place to this modelog's schema (all migrations or none).

    \b
    Example:
      MODELOG_DATABASE_URL=postgresql+psycopg://user@host/registry modelog db upgrade
    """
    before, after = upgrade_database()
    if before == after:
        echo(f"Database schema is already at version {after}; nothing to do.")
    elif before is None:
        echo(f"Database schema created at version {after}.")
    else:
        echo(f"Database schema upgraded from version {before} to {after}.")


#: What ``db status`` says of direct database access (docs/permissions.md).
LOCAL_ACCESS = ("operator: no role checks through the database itself; stage policies and four-eyes approval "
                "still apply")


@db.command("status")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Aligned text for people, or JSON for machines.")
def status(output: str) -> None:
    """Show where the registry database is and whether its schema fits this modelog (reads only).

    JSON keys: url, backend, schema_version, supported_version, alembic_revision, state, head, guards
    ("intact" or what is missing or disabled), tampering (null or the traces of removed events), signing
    (whether the log is signed and from where: then every append needs the key) and access (what direct
    database access may do: it is the operator, unchecked by role).
    Exits 1 after the report when the guards are not intact or events were removed.

    \b
    Example:
      modelog db status -o json
    """
    found = {**database_status(), "access": LOCAL_ACCESS}
    if output == "json":
        echo_json(found)
    else:
        width = max(len(k) for k in found)
        for key, value in found.items():
            echo(f"{key.ljust(width)}  {'' if value is None else value}")
    problems = [str(found[k]) for k in ("guards", "tampering") if found[k] not in (None, "intact")]
    if problems:
        raise click.ClickException(f"tampering suspected: {'; '.join(problems)}")


@click.group(cls=StrictGroup, name="integration")
def integration() -> None:
    """List and install optional integrations (pip extras of modelog).

    \b
    Example:
      modelog integration install sklearn -y
    """


@integration.command("list")
@output_option
def list_integrations(output: str) -> None:
    """List the optional integrations and whether they are installed.

    JSON: a list of {"name", "installed", "requirements", "summary"}.

    \b
    Example:
      modelog integration list
    """
    if output == "json":
        echo_json([{"name": i.name, "installed": i.installed(), "requirements": i.requirements(),
                    "summary": i.summary} for i in INTEGRATIONS.values()])
        return
    rows = [(i.name, "yes" if i.installed() else "no", " ".join(i.requirements()), i.summary)
            for i in INTEGRATIONS.values()]
    echo_table(("INTEGRATION", "INSTALLED", "REQUIREMENTS", "PROVIDES"), rows, "No integrations.",
               wide=("REQUIREMENTS", "PROVIDES"))


@integration.command("install")
@click.argument("name")
@yes_option
def install(name: str, yes: bool) -> None:
    """Install an integration's requirements into the running Python environment with pip.

    Says the pip command it runs; does nothing when the integration is already installed.

    \b
    Example:
      modelog integration install sklearn -y
    """

    found = get_integration(name)
    if found.installed():
        echo(f"Integration {found.name!r} is already installed ({', '.join(found.requirements())}).")
        return
    command = found.install_command()
    echo(f"Running: {subprocess.list2cmdline(command)}")
    confirm(f"install {', '.join(found.requirements())} into {command[0]}", yes)
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise click.ClickException(f"pip failed with exit status {completed.returncode}; nothing else was changed")
    echo(f"Integration {found.name!r} installed.")
