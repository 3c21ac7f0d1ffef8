"""The catalogue of event types: current schema versions and upcasters.

Kept free of pydantic and SQLAlchemy so that read paths (projections, the CLI)
can validate and upcast stored event data without importing the event classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelog.registry.errors import EventSchemaError

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

#: Current schema version of every event type the registry knows.
CURRENT_SCHEMA: dict[str, int] = {
    "ModelNameClaimed": 1,
    "ModelNameReleased": 1,
    "ModelRegistered": 1,
    "ModelUpdated": 1,
    "ModelDeleted": 1,
    "ModelVersionCreated": 1,
    "ModelVersionUpdated": 1,
    "ModelVersionStageChanged": 1,
    "ModelVersionAliasSet": 1,
    "ModelVersionAliasRemoved": 1,
    "ModelVersionDeleted": 1,
    "ArtifactLinked": 1,
    "ArtifactUnlinked": 1,
    "PipelineRunLinked": 1,
    "PipelineRunStarted": 1,
    "PipelineStepCompleted": 1,
    "PipelineRunCompleted": 1,
    "PipelineRunFailed": 1,
    "ArtifactVersionStored": 1,
}

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning ``event_type`` data at ``from_version`` into ``from_version + 1``."""

    def decorate(func: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = func
        return func

    return decorate


def unregister_upcaster(event_type: str, from_version: int) -> None:
    """Remove an upcaster (used by tests that install temporary ones)."""
    _UPCASTERS.pop((event_type, from_version), None)


def upcast(event_type: str, schema_version: int, data: Data) -> Data:
    """Return ``data`` upgraded to the current schema of ``event_type``, or fail loudly."""
    current = CURRENT_SCHEMA.get(event_type)
    if current is None:
        raise EventSchemaError(f"unknown event type {event_type!r}: this modelog is too old or the log is corrupt")
    if schema_version > current:
        raise EventSchemaError(
            f"event {event_type!r} has schema version {schema_version}, newer than supported {current}: upgrade modelog"
        )
    while schema_version < current:
        step = _UPCASTERS.get((event_type, schema_version))
        if step is None:
            raise EventSchemaError(f"no upcaster for {event_type!r} from schema version {schema_version}")
        data = step(dict(data))
        schema_version += 1
    return data
