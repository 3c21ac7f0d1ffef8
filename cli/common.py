"""Shared pieces of the commands: read options (--as-of, --at-position, -o), the registry's API, confirmations."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import click
from modelog.application.api import RegistryAPI
from modelog.cli.output import echo, escape_controls

F = TypeVar("F", bound=Callable[..., Any])

AS_OF_HELP = ("Answer from the log as it was at TIMESTAMP (ISO 8601, e.g. 2024-05-01T12:00:00Z; "
              "without a time zone it is local time).")
AT_POSITION_HELP = ("Answer from the log as it was right after log position N (0 = empty); a position inside one "
                    "command's events means the end of the command before it (a note on stderr says so).")
#: Where ``point_in_time`` leaves an asked-for position for ``registry_api`` to report how it was resolved.
_ASKED_POSITION = "modelog.at_position"
YES_HELP = "Do not ask for confirmation."


class IsoTimestamp(click.ParamType[datetime]):
    """An ISO 8601 timestamp; a naive one is taken as local time and made aware."""

    name = "timestamp"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Parse ``value``; a malformed timestamp is a usage error."""
        if isinstance(value, datetime):
            return value if value.tzinfo else value.astimezone()
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp (for example 2024-05-01T12:00:00Z)", param, ctx)
        try:  # the local zone of a naive 0001-01-01 or 9999-12-31 can fall outside the calendar
            return moment if moment.tzinfo else moment.astimezone()
        except (OverflowError, ValueError):
            self.fail(f"{value!r} is at the edge of the calendar; give a time zone (for example "
                      f"{value}+00:00) or a later date", param, ctx)


def output_option(func: F) -> F:
    """Add -o/--output (table for people, json for machines) to a command that prints a result."""
    return click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
                        help="Aligned table for people, or JSON for machines (e.g. jq).")(func)


def read_options(func: F) -> F:
    """Add --as-of, --at-position and -o/--output to a read command."""
    func = output_option(func)
    func = click.option("--at-position", type=click.IntRange(min=0), metavar="N", help=AT_POSITION_HELP)(func)
    return click.option("--as-of", type=IsoTimestamp(), metavar="TIMESTAMP", help=AS_OF_HELP)(func)


def yes_option(func: F) -> F:
    """Add -y/--yes to a destructive command."""
    return click.option("-y", "--yes", is_flag=True, help=YES_HELP)(func)


def point_in_time(as_of: datetime | None, at_position: int | None, *, whole_commands: bool = True) -> dict[str, Any]:
    """Keyword arguments selecting the point of the log a read answers from (usage error if both are given).

    ``whole_commands``: the read resolves a position to a command boundary (every read of the registry's
    state); the log's own listing takes positions as they are.
    """
    if as_of is not None and at_position is not None:
        raise click.UsageError("give either --as-of or --at-position, not both")
    context = click.get_current_context(silent=True)
    if context is not None and at_position is not None and whole_commands:
        context.meta[_ASKED_POSITION] = at_position
    return {"as_of": as_of, "at_position": at_position}


def note_resolved_position(api: RegistryAPI) -> None:
    """Say on stderr when --at-position N fell inside a command and the answer stands at an earlier boundary."""
    context = click.get_current_context(silent=True)
    asked = None if context is None else context.meta.pop(_ASKED_POSITION, None)
    if asked is None:
        return
    used = api.resolve_point(at_position=asked)
    if used != asked:
        echo(f"Note: log position {asked} is inside one command's events; answered as of position {used}, "
                   "where the command before it ended.", err=True)


@contextmanager
def registry_api(*, writable: bool = False) -> Iterator[RegistryAPI]:
    """The configured registry's service API, closed afterwards.

    A read-only SQLite registry is opened for reading, unless ``writable`` (every command that
    changes something): then it is refused at once with one line naming the database.
    """
    # Imported here: the command modules stay free of SQLAlchemy until a command runs, so shell
    # completion (which loads them to parse the line) answers fast.
    from modelog.application.local import connect  # noqa: PLC0415

    with connect(writable=writable) as api:
        yield api
        note_resolved_position(api)


def is_interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(action: str, yes: bool) -> None:
    """Ask "<action>?" unless ``yes``; without a terminal refuse (exit 1) instead of waiting for input."""
    if yes:
        return
    if not is_interactive():
        raise click.ClickException(f"refusing to {action} without confirmation (no terminal to ask on); "
                                   "pass -y/--yes to confirm")
    click.confirm(escape_controls(f"{action[0].upper()}{action[1:]}?"), abort=True)


def ask(question: str, refusal: str) -> bool:
    """Ask a yes/no question at a terminal; without one, fail with ``refusal`` (exit 1) instead of waiting."""
    if not is_interactive():
        raise click.ClickException(refusal)
    return click.confirm(escape_controls(question), default=False)
