"""Upcasters: stored events of an older schema version are upgraded on every read path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from modelog.projections.rebuild import rebuild, verify
from modelog.registry import catalog
from modelog.registry import events as ev
from modelog.registry.commands import CreateVersion, RegisterModel, UpdateModel
from modelog.registry.errors import EventSchemaError
from modelog.registry.events import EVENT_CLASSES, Event, decode_event
from modelog.registry.store import NewEvent


def _legacy_version_created(data: dict[str, Any]) -> dict[str, Any]:
    """Test-only v0 of ModelVersionCreated called the name ``version_name`` and had no tags."""
    upgraded = {k: v for k, v in data.items() if k != "version_name"}
    upgraded["name"] = data["version_name"]
    return upgraded


@pytest.fixture
def v0_upcaster() -> Iterator[None]:
    """Install the test-only upcaster ModelVersionCreated v0 -> v1, and remove it afterwards."""
    catalog.register_upcaster("ModelVersionCreated", 0)(_legacy_version_created)
    yield
    catalog.unregister_upcaster("ModelVersionCreated", 0)


V0_EVENT = NewEvent("ModelVersionCreated", 0, {"number": 1, "version_name": "legacy", "description": "old"})


def test_a_v0_event_is_upcast_for_projection_aggregates_and_history(registry: Any, v0_upcaster: None) -> None:
    model_id = registry.commands.execute(RegisterModel(name="demo")).model_id
    registry.store.append(f"model-{model_id}", 1, [V0_EVENT])
    assert registry.store.read_stream(f"model-{model_id}")[-1].schema_version == 0  # stored as written
    assert registry.reads.get_version("demo", "legacy").description == "old"
    assert registry.commands.execute(CreateVersion(model="demo")).number == 2  # the aggregate saw number 1
    fresh = type(registry.commands)(registry.store, actor="tester")  # no cache: replays the v0 event
    assert fresh.execute(CreateVersion(model="demo")).number == 3
    assert "created version 1 named 'legacy'" in [h.summary for h in registry.reads.history("demo")]
    assert rebuild(registry.engine, registry.store).events == registry.store.head()
    assert verify(registry.engine, registry.store).ok
    assert registry.reads.get_version("demo", 1, at_position=3).name == "legacy"


def test_without_its_upcaster_an_old_event_fails_loudly(registry: Any) -> None:
    model_id = registry.commands.execute(RegisterModel(name="demo")).model_id
    with pytest.raises(EventSchemaError, match="no upcaster for 'ModelVersionCreated' from schema version 0"):
        registry.store.append(f"model-{model_id}", 1, [V0_EVENT])
    assert registry.store.head() == 2
    with pytest.raises(EventSchemaError, match="no upcaster"):
        decode_event("ModelVersionCreated", 0, dict(V0_EVENT.data))


@pytest.fixture
def pinged_v2() -> Iterator[type[Event]]:
    """A test-only event type at schema version 2 with upcasters 0 -> 1 -> 2; all removed afterwards."""
    catalog.CURRENT_SCHEMA["TestPinged"] = 2

    class TestPinged(Event):
        target: str
        attempts: int

    catalog.register_upcaster("TestPinged", 0)(lambda d: {"target": d["host"]})
    catalog.register_upcaster("TestPinged", 1)(lambda d: {**d, "attempts": 1})
    yield TestPinged
    catalog.unregister_upcaster("TestPinged", 0)
    catalog.unregister_upcaster("TestPinged", 1)
    del catalog.CURRENT_SCHEMA["TestPinged"]
    del EVENT_CLASSES["TestPinged"]


def test_upcasters_chain_through_every_older_version(pinged_v2: type[Event]) -> None:
    expected = pinged_v2(target="db", attempts=1)
    assert decode_event("TestPinged", 0, {"host": "db"}) == expected
    assert decode_event("TestPinged", 1, {"target": "db"}) == expected
    assert decode_event("TestPinged", 2, {"target": "db", "attempts": 1}) == expected
    assert pinged_v2.schema_version == 2
    with pytest.raises(EventSchemaError, match="schema version 3, newer than supported 2"):
        decode_event("TestPinged", 3, {"target": "db", "attempts": 1})


def test_the_test_only_event_type_is_gone_afterwards() -> None:
    assert "TestPinged" not in catalog.CURRENT_SCHEMA and "TestPinged" not in EVENT_CLASSES
    with pytest.raises(EventSchemaError, match="unknown event type"):
        decode_event("TestPinged", 2, {"target": "db", "attempts": 1})


@pytest.fixture
def model_updated_v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Bump ModelUpdated to schema version 2 for one test; the 1 -> 2 upcaster records what it upgraded."""
    seen: list[dict[str, Any]] = []

    def upgrade(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data)
        return data

    monkeypatch.setitem(catalog.CURRENT_SCHEMA, "ModelUpdated", 2)
    monkeypatch.setattr(ev.ModelUpdated, "schema_version", 2)
    catalog.register_upcaster("ModelUpdated", 1)(upgrade)
    yield seen
    catalog.unregister_upcaster("ModelUpdated", 1)


def test_a_bumped_schema_reads_old_and_new_events_together(registry: Any, request: pytest.FixtureRequest) -> None:
    registry.commands.execute(RegisterModel(name="demo"))
    registry.commands.execute(UpdateModel(model="demo", changes={"license": "MIT"}))
    seen = request.getfixturevalue("model_updated_v2")
    registry.commands.execute(UpdateModel(model="demo", add_tags=("new",)))
    versions = [e.schema_version for e in registry.store.read_all() if e.event_type == "ModelUpdated"]
    assert versions == [1, 2]
    rebuild(registry.engine, registry.store)
    assert seen == [{"changes": {"license": "MIT"}, "tags_added": [], "tags_removed": []}]
    model = registry.reads.get_model("demo")
    assert (model.license, model.tags) == ("MIT", ("new",))
    assert verify(registry.engine, registry.store).ok
