"""Helpers for event-store tests: a bare log on a test database, raw events, attacker-style SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelog.registry.database import create_engine_for, transaction
from modelog.registry.memory import InMemoryRecorder
from modelog.registry.schema import create_log_schema
from modelog.registry.store import EventStore, NewEvent, StoredEvent
from sqlalchemy.engine import Connection, Engine


def log_engine(url: str) -> Engine:
    """An engine on ``url`` with the log tables and guards created."""
    engine = create_engine_for(url, synchronous="NORMAL")
    with transaction(engine, write=True) as conn:
        create_log_schema(conn)
    return engine


def new(i: int = 1, event_type: str = "ModelUpdated", schema_version: int = 1) -> NewEvent:
    """A raw event whose data names ``i``."""
    return NewEvent(event_type, schema_version, {"changes": {"description": f"d{i}"}})


def drop_guards(engine: Engine) -> None:
    """Remove the append-only triggers (what an attacker with DDL rights does first)."""
    with engine.begin() as conn:
        drop_guards_on(conn)


def drop_guards_on(conn: Connection) -> None:
    """Remove the append-only and chain triggers inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        for name in ("events_no_change", "events_no_truncate", "events_chain"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON events")
    else:
        for name in ("events_no_update", "events_no_delete", "events_chain"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def fill(store: EventStore | InMemoryRecorder, count: int,
         streams: Sequence[str] = ("s-a", "s-b", "s-c")) -> list[StoredEvent]:
    """Append ``count`` events round-robin over ``streams``, one append each."""
    stored: list[StoredEvent] = []
    for i in range(count):
        stored += store.append(streams[i % len(streams)], None, [new(i)])
    return stored


class CountingStore(EventStore):
    """An event store that counts the events its reads return (a real store, not a mock)."""

    events_read: int = 0
    streams_read: list[str]

    def reset_count(self) -> None:
        """Start counting from zero."""
        self.events_read, self.streams_read = 0, []

    def read_stream(self, stream_id: str, **kwargs: Any) -> list[StoredEvent]:  # type: ignore[override]
        """Read one stream, counting its events."""
        found = super().read_stream(stream_id, **kwargs)
        self.events_read += len(found)
        self.streams_read = [*getattr(self, "streams_read", []), stream_id]
        return found

    def read_stream_rows(self, stream_id: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Read one stream raw, counting its events."""
        found = super().read_stream_rows(stream_id, *args, **kwargs)
        self.events_read += len(found)
        self.streams_read = [*getattr(self, "streams_read", []), stream_id]
        return found

    def _read_batch(self, *args: Any, **kwargs: Any) -> list[StoredEvent]:
        found = super()._read_batch(*args, **kwargs)
        self.events_read += len(found)
        return found
