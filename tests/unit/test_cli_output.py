"""Table formatting, timestamps and error mapping of the CLI (no database involved)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
import pytest
from click.testing import CliRunner
from modelog.cli.common import IsoTimestamp
from modelog.cli.main import ModelogGroup, describe_error
from modelog.cli.output import cell, render_table, when
from modelog.registry.errors import ConflictError


def test_table_columns_are_aligned_without_trailing_spaces() -> None:
    text = render_table(("NAME", "N", "NOTE"), [("demo", 1, None), ("a", 12, "x")])
    assert text == "NAME  N   NOTE\ndemo  1\na     12  x"


def test_cells_are_one_line_and_shortened_except_wide_columns() -> None:
    assert cell("a\nb") == "a b"
    assert cell(("x", "y")) == "x, y"
    assert cell("x" * 50) == "x" * 37 + "..."
    assert render_table(("LONG",), [("y" * 50,)], wide=("LONG",)).splitlines()[1] == "y" * 50


def test_when_shows_stored_utc_times_to_the_second() -> None:
    assert when("2024-05-01T12:00:00.123456Z") == "2024-05-01T12:00:00Z"
    assert when(None) == ""


def test_iso_timestamps_naive_is_local_time() -> None:
    parsed = IsoTimestamp().convert("2024-05-01T12:00:00", None, None)
    assert parsed.tzinfo is not None and parsed.replace(tzinfo=None) == datetime(2024, 5, 1, 12)
    aware = IsoTimestamp().convert("2024-05-01T12:00:00+02:00", None, None)
    assert aware.utcoffset() == timedelta(hours=2)
    assert IsoTimestamp().convert("2024-05-01T10:00:00Z", None, None) == aware
    assert aware.tzinfo == timezone(timedelta(hours=2))
    with pytest.raises(click.BadParameter, match="is not an ISO 8601 timestamp"):
        IsoTimestamp().convert("01/05/2024", None, None)


def _group_raising(error: Exception) -> click.Group:
    @click.group(cls=ModelogGroup)
    def root() -> None:
        """Root."""

    @root.command()
    def boom() -> None:
        """Fail."""
        raise error

    return root


def test_registry_errors_become_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(_group_raising(ConflictError("stage is held")), ["boom"])
    assert (result.exit_code, result.stderr) == (1, "Error: stage is held\n")


def test_unexpected_errors_name_their_type_without_a_traceback() -> None:
    result = CliRunner().invoke(_group_raising(KeyError("x")), ["boom"])
    assert (result.exit_code, result.stderr) == (1, "Error: unexpected KeyError: 'x'\n")
    assert describe_error(ValueError("bad")) == "unexpected ValueError: bad"
