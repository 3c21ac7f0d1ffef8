"""Issue 12.5: one clock for the log.

``recorded_at`` comes from one authority: the database server's clock on PostgreSQL (read inside the
append's transaction), this machine's clock on SQLite. A client whose own clock runs fast cannot date
events in the future: on PostgreSQL its clock is not asked, on SQLite the database's clock guard
refuses what is more than 60 s ahead. An import holding an event in the future (beyond the same 60 s),
or events dated out of order, is refused with one line naming the position; nothing is imported.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry import store as store_module
from modelog.registry.errors import IntegrityError, InvalidInputError
from modelog.registry.hashing import GENESIS_HASH, chain_hash
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.recorder import EventRow, format_time, parse_time
from modelog.registry.service import CommandService
from modelog.registry.transfer import export_log
from sqlalchemy import text

from tests.cli_support import run

FAST = timedelta(hours=1)


def _server_now(registry: Any) -> datetime:
    with registry.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            return conn.execute(text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]
    return datetime.now(UTC)


def test_a_client_with_a_fast_clock_cannot_date_events_in_the_future(registry: Any, backend: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    monkeypatch.setattr(store_module, "utc_now", lambda: datetime.now(UTC) + FAST)  # this process's clock is fast
    before = _server_now(registry)
    if backend == "postgres":  # the server's clock is the authority: the fast client clock is never read
        registry.commands.execute(cmd.UpdateModel(model="demo", changes={"description": "x"}))
        stamp = parse_time(registry.store.log_head().recorded_at)
        assert before <= stamp <= _server_now(registry)
    else:  # SQLite: the database's clock guard refuses a time more than 60 s ahead of the machine's clock
        with pytest.raises(IntegrityError, match="recorded in time order and not ahead of the clock"):
            registry.commands.execute(cmd.UpdateModel(model="demo", changes={"description": "x"}))
        assert registry.store.head() == 2
    monkeypatch.undo()
    registry.commands.execute(cmd.UpdateModel(model="demo", changes={"description": "y"}))
    stamps = [e.recorded_at for e in registry.store.read_all()]
    assert stamps == sorted(stamps) and parse_time(stamps[-1]) <= datetime.now(UTC) + timedelta(seconds=5)


def _future_export(tmp_path: Path, ahead: timedelta) -> Path:
    source = InMemoryRecorder(clock=lambda: datetime.now(UTC) + ahead)
    CommandService(source, actor="ann").execute(cmd.RegisterModel(name="x"))  # a history the domain accepts
    path = tmp_path / "future.jsonl"
    with path.open("w") as out:
        export_log(source, out)
    return path


def test_an_import_with_events_in_the_future_is_refused(registry: Any, tmp_path: Path) -> None:
    refused = run("import", str(_future_export(tmp_path, timedelta(days=365 * 10))))
    assert refused.exit_code == 1
    line = refused.stderr.strip()
    assert "\n" not in line and line.startswith("Error: event at position 1 is dated ") and "in the future" in line
    assert "nothing was imported" in line and registry.store.head() == 0
    accepted = run("import", str(_future_export(tmp_path, timedelta(seconds=20))))  # within the allowed skew
    assert accepted.exit_code == 0, accepted.stderr
    assert registry.store.head() == 2


def _rows(times: list[str]) -> list[EventRow]:
    rows, prev = [], GENESIS_HASH
    for position, at in enumerate(times, start=1):
        data, meta = '{"x":1}', "{}"
        digest = chain_hash(prev, position, "s-a", position, "ModelUpdated", 1, data, meta, at)
        rows.append(EventRow(position, "s-a", position, "ModelUpdated", 1, data, meta, at, prev, digest))
        prev = digest
    return rows


def test_an_import_dated_out_of_order_is_refused(registry: Any) -> None:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    times = [format_time(base), format_time(base + timedelta(seconds=2)), format_time(base + timedelta(seconds=1))]
    with pytest.raises(InvalidInputError, match="event at position 3 is dated .* before the event preceding it"):
        registry.store.import_rows([_rows(times)])
    assert registry.store.head() == 0
    memory = InMemoryRecorder()
    with pytest.raises(InvalidInputError, match="position 3"):
        memory.import_rows([_rows(times)])
    assert memory.head() == 0


def test_a_head_far_in_the_future_stops_appends_instead_of_dragging_them_along(registry: Any) -> None:
    """An event already dated a year ahead (forged, say) would date every later one a year ahead too."""
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    registry.store.clock = lambda: datetime.now(UTC) - timedelta(days=365)  # the head is now far ahead of it
    with pytest.raises(IntegrityError, match=r"more than 60 s after the clock of record"):
        registry.commands.execute(cmd.UpdateModel(model="demo", changes={"description": "x"}))
    assert registry.store.head() == 2
    registry.store.clock = None
    registry.commands.execute(cmd.UpdateModel(model="demo", changes={"description": "x"}))
    head = registry.store.log_head()
    assert io.StringIO(head.recorded_at or "").read() <= format_time(datetime.now(UTC) + timedelta(seconds=5))
