"""The catalogue of event types: current schema versions and upcasters.

Kept free of pydantic and SQLAlchemy so that read paths (projections, the CLI)
can validate and upcast stored event data without importing the event classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelog.registry.errors import EventSchemaError
from modelog.registry.vocabulary import EventType

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

#: Event types whose schema moved past version 1 (none yet), and to which version.
_BUMPED: dict[EventType, int] = {}

#: Current schema version of every event type the registry knows (keys are plain text: the log's).
CURRENT_SCHEMA: dict[str, int] = {event_type.value: _BUMPED.get(event_type, 1) for event_type in EventType}

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
