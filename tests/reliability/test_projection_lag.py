"""Projection lag and crash: views behind the log, a checkpoint set back or ahead, view rows deleted.

Each is detected by ``projections.rebuild.verify`` (what ``modelog projections verify`` runs) and
repaired when the registry is next opened (catch-up) or by a rebuild; never served silently stale.
A checkpoint *ahead* of the log is evidence of removed events: only an explicit rebuild resets it.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelog.application.bootstrap import open_registry
from modelog.projections import tables as t
from modelog.projections.rebuild import rebuild
from modelog.registry import commands as cmd
from modelog.registry.database import create_engine_for, transaction
from modelog.registry.errors import IntegrityError
from modelog.registry.service import CommandService
from modelog.registry.store import EventStore
from sqlalchemy import update

from tests.reliability.support import check_log_and_views, snapshot


def _populate(registry: Any, models: int = 3) -> None:
    for i in range(models):
        registry.commands.execute(cmd.RegisterModel(name=f"lag{i}"))
        for _ in range(3):
            registry.commands.execute(cmd.CreateVersion(model=f"lag{i}"))
        registry.commands.execute(cmd.SetStage(model=f"lag{i}", version=2, stage="production"))
        registry.commands.execute(cmd.SetAlias(model=f"lag{i}", version=3, alias="next"))


def _set_checkpoint(url: str, position: int) -> None:
    engine = create_engine_for(url)
    with transaction(engine, write=True) as conn:
        conn.execute(update(t.checkpoints).values(position=position))
    engine.dispose()


def _problems(url: str) -> list[str]:
    return check_log_and_views(url)[1]


def _reopen_and_check(url: str, home: Any) -> None:
    """Opening the registry repairs the views; afterwards they equal a fresh replay and writes work."""
    with open_registry(url, home=home) as registry:
        assert _problems(url) == []
        result = registry.commands.execute(cmd.CreateVersion(model="lag0"))
        assert registry.reads.get_version("lag0", "latest").number == result.number
    assert _problems(url) == []


def test_views_left_behind_the_log_are_caught_up_on_open(registry: Any, db_url: str, home: Any) -> None:
    """A crash between log and views (simulated: events appended by a writer without the projector)."""
    _populate(registry)
    registry.close()
    engine = create_engine_for(db_url)
    bare = CommandService(EventStore(engine), actor="crashy")  # appends to the log only
    bare.execute(cmd.CreateVersion(model="lag0"))
    bare.execute(cmd.SetStage(model="lag0", version=4, stage="production", force=True))
    engine.dispose()
    lagging = snapshot(db_url)
    assert lagging.checkpoint == lagging.head - 3
    problems = _problems(db_url)
    assert any(f"checkpoint is at position {lagging.checkpoint} but the log ends at {lagging.head}" in p
               for p in problems), problems
    _reopen_and_check(db_url, home)


def test_checkpoint_set_back_is_detected_and_repaired(registry: Any, db_url: str, home: Any) -> None:
    _populate(registry)
    registry.close()
    head = snapshot(db_url).head
    _set_checkpoint(db_url, head - 5)
    assert any("checkpoint is at position" in p for p in _problems(db_url))
    _reopen_and_check(db_url, home)


def test_checkpoint_ahead_of_the_log_is_kept_as_evidence_until_rebuilt(registry: Any, db_url: str,
                                                                       home: Any) -> None:
    """Issue 12.2: a checkpoint past the log's end is what deleting the log's tail leaves; opening keeps it."""
    _populate(registry)
    registry.close()
    head = snapshot(db_url).head
    _set_checkpoint(db_url, head + 1000)
    assert any(f"but the log ends at {head}" in p for p in _problems(db_url))
    with open_registry(db_url, home=home) as reopened:
        assert snapshot(db_url).checkpoint == head + 1000  # opening moved nothing
        assert reopened.reads.get_version("lag0", "@next").number == 3  # reads answer from the log meanwhile
        refused = f"tampering suspected: the read models' checkpoint is at position {head + 1000} but the log ends"
        with pytest.raises(IntegrityError, match=refused):
            reopened.commands.execute(cmd.CreateVersion(model="lag0"))
        assert (snapshot(db_url).head, snapshot(db_url).checkpoint) == (head, head + 1000)
        rebuild(reopened.engine, reopened.store)  # the operator accepts the log as it now is
    _reopen_and_check(db_url, home)


def test_deleted_view_rows_are_detected_and_rebuilt(registry: Any, db_url: str, home: Any) -> None:
    _populate(registry)
    with transaction(registry.engine, write=True) as conn:
        conn.execute(t.aliases.delete())
        conn.execute(update(t.versions).where(t.versions.c.number == 2).values(stage="archived"))
    problems = _problems(db_url)
    assert any(p.startswith("view_aliases:") for p in problems), problems
    assert any(p.startswith("view_versions:") for p in problems), problems
    report = rebuild(registry.engine, registry.store)
    assert report.events == snapshot(db_url).head
    assert _problems(db_url) == []
    assert registry.reads.get_version("lag1", "@next").number == 3
