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
from modelog.cli.common import confirm, yes_option
from modelog.cli.output import echo_json, echo_table


@click.command("clean")
@yes_option
@click.option("--no-backup", is_flag=True, help="Do not write a backup export of the log first.")
def clean(yes: bool, no_backup: bool) -> None:
    """Wipe the local registry (database and artifacts) after confirmation.

    A backup export of the log is written first to <home>/backups/ (unless --no-backup) and its path is
    printed; 'modelog import FILE' restores it. Against a non-SQLite database (MODELOG_DATABASE_URL) it
    refuses unless --yes is given, and names the database it wipes.

    \b
    Example:
      modelog clean -y
    """
    location = locate_registry()
    if not has_registry(location):
        where = location.home if location.is_sqlite else location.display_url()
        click.echo(f"Nothing to clean: there is no registry in {where}.")
        return
    if not location.is_sqlite and not yes:
        raise click.ClickException(f"refusing to wipe the database {location.display_url()} without --yes")
    confirm(f"wipe the registry {_target(location)}", yes)
    if not no_backup:
        _backup(location)
    removed = wipe_registry(location)
    click.echo(f"Registry wiped ({len(removed)} item(s) removed from {_target(location)}).")


def _target(location: RegistryLocation) -> str:
    if location.is_sqlite:
        return f"{location.sqlite_path} and artifacts in {location.artifacts_dir}"
    return f"in database {location.display_url()} and artifacts in {location.artifacts_dir}"


def _backup(location: RegistryLocation) -> None:
    if count_events(location) == 0:
        click.echo("The log is empty; no backup needed.")
        return
    path = backup_path(location)
    count = write_backup(location, path)
    click.echo(f"Backup of {count} events written to {path} (restore with: modelog import {path}).")


@click.group("db")
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
        click.echo(f"Database schema is already at version {after}; nothing to do.")
    elif before is None:
        click.echo(f"Database schema created at version {after}.")
    else:
        click.echo(f"Database schema upgraded from version {before} to {after}.")


@db.command("status")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Aligned text for people, or JSON for machines.")
def status(output: str) -> None:
    """Show where the registry database is and whether its schema fits this modelog (reads only).

    JSON keys: url, backend, schema_version, supported_version, alembic_revision, state, head.

    \b
    Example:
      modelog db status -o json
    """
    found = database_status()
    if output == "json":
        echo_json(found)
        return
    width = max(len(k) for k in found)
    for key, value in found.items():
        click.echo(f"{key.ljust(width)}  {'' if value is None else value}")


@click.group("integration")
def integration() -> None:
    """List and install optional integrations (pip extras of modelog).

    \b
    Example:
      modelog integration install sklearn -y
    """


@integration.command("list")
def list_integrations() -> None:
    """List the optional integrations and whether they are installed.

    \b
    Example:
      modelog integration list
    """
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
        click.echo(f"Integration {found.name!r} is already installed ({', '.join(found.requirements())}).")
        return
    command = found.install_command()
    click.echo(f"Running: {subprocess.list2cmdline(command)}")
    confirm(f"install {', '.join(found.requirements())} into {command[0]}", yes)
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise click.ClickException(f"pip failed with exit status {completed.returncode}; nothing else was changed")
    click.echo(f"Integration {found.name!r} installed.")
