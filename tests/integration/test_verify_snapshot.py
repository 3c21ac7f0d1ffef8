"""Issue 12.9: ``projections verify`` compares one snapshot while others write (both backends; the fix is PostgreSQL's).

The writers are threads, each with its own registry, engine and server sessions. Before, the check read
the checkpoint, the log and each view table in separate READ COMMITTED statements and reported
differences that were only commits landing in between. A SQLite read transaction was already one snapshot.
"""

from __future__ import annotations

import threading
from pathlib import Path

from modelog.application.bootstrap import open_registry
from modelog.projections.rebuild import verify
from modelog.registry import commands as cmd
from sqlalchemy import text

from tests.integration.pg_support import side_connection


def _write_until(url: str, home: Path, tag: str, stop: threading.Event, errors: list[BaseException]) -> None:
    try:
        with open_registry(url, home=home, actor=tag) as registry:
            registry.commands.execute(cmd.RegisterModel(name=f"model-{tag}"))
            while not stop.is_set():
                registry.commands.execute(cmd.CreateVersion(model=f"model-{tag}"))
    except BaseException as error:  # reported by the test
        errors.append(error)


def test_projections_verify_sees_one_snapshot_while_others_write(db_url: str, tmp_path: Path) -> None:
    url = db_url
    with open_registry(url, home=tmp_path) as registry:
        registry.commands.execute(cmd.RegisterModel(name="seed"))
        stop, errors = threading.Event(), []
        writers = [threading.Thread(target=_write_until, args=(url, tmp_path, f"w{i}", stop, errors))
                   for i in range(2)]
        for writer in writers:
            writer.start()
        try:
            reports = [verify(registry.engine, registry.store) for _ in range(12)]
        finally:
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
        assert not errors, errors
        positions = [r.checked_position for r in reports]
        assert positions[-1] > positions[0], positions  # the writers really moved the log on meanwhile
        assert [r.differences for r in reports if not r.ok] == []
        assert verify(registry.engine, registry.store).ok


def test_a_real_difference_is_still_reported_under_writes(db_url: str, tmp_path: Path) -> None:
    url = db_url
    with open_registry(url, home=tmp_path) as registry:
        registry.commands.execute(cmd.RegisterModel(name="seed", fields={"description": "as recorded"}))
        with side_connection(url) as attacker:
            attacker.execute(text("UPDATE view_models SET description = 'edited'"))
        stop, errors = threading.Event(), []
        writer = threading.Thread(target=_write_until, args=(url, tmp_path, "w", stop, errors))
        writer.start()
        try:
            report = verify(registry.engine, registry.store)
        finally:
            stop.set()
            writer.join(timeout=60)
        assert not errors, errors
        assert not report.ok and any("view_models" in d and "edited" in d for d in report.differences)


