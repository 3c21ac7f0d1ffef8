"""Unit of work: load aggregates, record their new events, append them all atomically.

Aggregates are cached per stream between commands; a load only reads the events
appended since (by this process or any other). Recorded events are applied at once,
so later decisions in the same command see them; on any failure the touched streams
are evicted from the cache so no uncommitted state survives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from registry.aggregates import Aggregate
from registry.events import Event, decode_event
from registry.store import AppendRequest, EventStore, NewEvent, StoredEvent

A = TypeVar("A", bound=Aggregate)


@dataclass
class AggregateCache:
    """Aggregates by stream id, each with the stream version it reflects."""

    entries: dict[str, Aggregate] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    max_entries: int = 10_000

    def get(self, stream_id: str) -> Aggregate | None:
        """The cached aggregate, or None."""
        return self.entries.get(stream_id)

    def put(self, stream_id: str, aggregate: Aggregate) -> None:
        """Remember an aggregate (evicting everything when the cache is full)."""
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[stream_id] = aggregate

    def evict(self, stream_ids: Any) -> None:
        """Forget the given streams."""
        for stream_id in stream_ids:
            self.entries.pop(stream_id, None)


@dataclass
class _Pending:
    aggregate: Aggregate
    expected_version: int
    events: list[Event] = field(default_factory=list)


class UnitOfWork:
    """One command's reads and writes inside one write transaction."""

    def __init__(self, store: EventStore, conn: Connection, cache: AggregateCache) -> None:
        self.store, self.conn, self.cache = store, conn, cache
        self.pending: dict[str, _Pending] = {}
        self.loaded: set[str] = set()

    def load(self, cls: type[A], stream_id: str) -> A:
        """The aggregate of ``stream_id``, brought up to date with the log."""
        if stream_id in self.pending:
            return self.pending[stream_id].aggregate  # type: ignore[return-value]
        cached = self.cache.get(stream_id)
        aggregate = cached if isinstance(cached, cls) else cls()
        for stored in self.store.read_stream(stream_id, after_version=aggregate.version, conn=self.conn):
            aggregate.apply(decode_event(stored.event_type, stored.schema_version, stored.data))
        self.loaded.add(stream_id)
        self.cache.put(stream_id, aggregate)
        self.pending[stream_id] = _Pending(aggregate, aggregate.version)
        return aggregate

    def record(self, stream_id: str, aggregate: Aggregate, new_events: list[Event]) -> None:
        """Apply ``new_events`` to ``aggregate`` now and append them at commit."""
        entry = self.pending.setdefault(stream_id, _Pending(aggregate, aggregate.version))
        for event in new_events:
            aggregate.apply(event)
            entry.events.append(event)
        self.cache.put(stream_id, aggregate)

    def flush(self, meta: dict[str, Any]) -> list[StoredEvent]:
        """Append every recorded event in one batch, each stream checked against its loaded version."""
        requests = [
            AppendRequest(stream_id, entry.expected_version,
                          [NewEvent(e.event_type, e.schema_version, e.to_data()) for e in entry.events])
            for stream_id, entry in self.pending.items()
            if entry.events
        ]
        return self.store.append_batch(requests, meta, conn=self.conn) if requests else []

    def discard(self) -> None:
        """Evict every stream this unit touched from the cache (after a failure)."""
        self.cache.evict(list(self.pending) + list(self.loaded))
