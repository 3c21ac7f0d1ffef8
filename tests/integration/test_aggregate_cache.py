"""The aggregate cache skips stream reads only while it is provably in step with the log.

Each test runs a second service with ``attempts = 1``: a decision on stale state would then
surface as a ConcurrencyError instead of being healed silently by a retry.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry import unit_of_work
from modelog.registry.aggregates import ModelState
from modelog.registry.service import CommandService
from modelog.registry.store import LogHead


def _service(registry: Any) -> CommandService:
    service = CommandService(registry.store, actor="cached")
    service.attempts = 1
    return service


def test_a_moved_stream_the_unit_did_not_load_is_evicted(registry: Any) -> None:
    mine = _service(registry)
    for name in ("one", "two"):
        mine.execute(cmd.RegisterModel(name=name))
        mine.execute(cmd.CreateVersion(model=name))
    registry.commands.execute(cmd.CreateVersion(model="two"))  # "two" moves behind mine's back
    mine.execute(cmd.CreateVersion(model="one"))  # in step again, without loading "two"
    assert mine.execute(cmd.CreateVersion(model="two")).number == 3
    assert registry.store.verify().ok


def test_more_foreign_events_than_the_catch_up_limit_start_afresh(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unit_of_work, "CATCH_UP_LIMIT", 3)
    mine = _service(registry)
    mine.execute(cmd.RegisterModel(name="demo"))
    mine.execute(cmd.CreateVersion(model="demo"))
    for _ in range(5):
        registry.commands.execute(cmd.CreateVersion(model="demo"))
    assert mine.execute(cmd.CreateVersion(model="demo")).number == 7


def test_a_different_log_at_the_synced_position_is_not_trusted(registry: Any) -> None:
    mine = _service(registry)
    model_id = mine.execute(cmd.RegisterModel(name="demo")).model_id
    mine.execute(cmd.CreateVersion(model="demo"))
    synced = mine.cache.synced
    assert synced is not None
    mine.cache.put(f"model-{model_id}", ModelState())  # what a cache of some other log could hold
    mine.cache.synced = LogHead(synced.position, "f" * 64, synced.recorded_at)
    assert mine.execute(cmd.CreateVersion(model="demo")).number == 2


def test_a_refused_command_keeps_the_cache_in_step(registry: Any) -> None:
    mine = _service(registry)
    mine.execute(cmd.RegisterModel(name="demo"))
    synced = mine.cache.synced
    with pytest.raises(Exception, match="already exists"):
        mine.execute(cmd.RegisterModel(name="demo"))
    assert mine.cache.synced == synced
    registry.commands.execute(cmd.CreateVersion(model="demo"))
    assert mine.execute(cmd.CreateVersion(model="demo")).number == 2
