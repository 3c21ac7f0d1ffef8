"""Unit of work: load aggregates, record their new events, append them all atomically.

Aggregates are cached per stream between commands. The cache remembers the log head it
is in step with; a unit of work starts (under the write lock) with one query that returns
the current head and the streams appended to since, so a cached aggregate whose stream has
not moved is used without reading, and one that moved only reads the events appended
since (by this process or any other). Recorded events are applied at once, so later
decisions in the same command see them; on any failure the touched streams are evicted
from the cache so no uncommitted state survives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelog.registry.aggregates import Aggregate
from modelog.registry.events import Event, decode_event
from modelog.registry.recorder import AppendRequest, LogHead, NewEvent, StoredEvent, WriteSession

A = TypeVar("A", bound=Aggregate)

#: Past this many foreign events since the cache was last in step, start afresh instead of catching up.
CATCH_UP_LIMIT = 1_000


@dataclass
class AggregateCache:
    """Aggregates by stream id, each with the stream version it reflects."""

    entries: dict[str, Aggregate] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    max_entries: int = 10_000
    #: Every cached aggregate reflects its stream up to this head (None: unknown, nothing trusted).
    synced: LogHead | None = None

    def begin(self, session: WriteSession) -> tuple[LogHead, set[str]]:
        """Under the write lock: the log head, and the cached streams that moved since the cache was in step."""
        if self.synced is not None:
            found = session.moved_since(self.synced, CATCH_UP_LIMIT)
            if found is not None:
                return found
        self.entries.clear()
        self.synced = None
        return session.log_head(), set()

    def get(self, stream_id: str) -> Aggregate | None:
        """The cached aggregate, or None."""
        return self.entries.get(stream_id)

    def put(self, stream_id: str, aggregate: Aggregate) -> None:
        """Remember an aggregate (evicting everything when the cache is full)."""
        if len(self.entries) >= self.max_entries:
            self.entries.clear()  # trivially still in step with ``synced``
        self.entries[stream_id] = aggregate

    def evict(self, stream_ids: Iterable[str]) -> None:
        """Forget the given streams."""
        for stream_id in stream_ids:
            self.entries.pop(stream_id, None)


@dataclass
class _Pending:
    aggregate: Aggregate
    expected_version: int
    events: list[Event] = field(default_factory=list)


class UnitOfWork:
    """One command's reads and writes inside one write session (a transaction holding the append lock)."""

    def __init__(self, session: WriteSession, cache: AggregateCache) -> None:
        self.session, self.cache = session, cache
        self.pending: dict[str, _Pending] = {}
        self.loaded: set[str] = set()
        self.head, self.moved = cache.begin(session)
        self.appended: list[StoredEvent] = []

    def load(self, cls: type[A], stream_id: str) -> A:
        """The aggregate of ``stream_id``, brought up to date with the log."""
        if stream_id in self.pending:
            return self.pending[stream_id].aggregate  # type: ignore[return-value]
        cached = self.cache.get(stream_id)
        aggregate = cached if isinstance(cached, cls) else cls()
        if aggregate is not cached or stream_id in self.moved:
            self._catch_up(aggregate, stream_id)
        self.loaded.add(stream_id)
        self.cache.put(stream_id, aggregate)
        self.pending[stream_id] = _Pending(aggregate, aggregate.version)
        return aggregate

    def _catch_up(self, aggregate: Aggregate, stream_id: str) -> None:
        for stored in self.session.read_stream(stream_id, aggregate.version):
            aggregate.apply(decode_event(stored.event_type, stored.schema_version, stored.data))

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
        if requests:
            first = self.head.position + 1  # where this transaction starts: point-in-time reads stop at its ends
            span = [first, first + sum(len(r.events) for r in requests) - 1]
            self.appended = self.session.append(requests, {**meta, "span": span}, self.head)
        return self.appended

    def committed(self) -> None:
        """After the commit: the cache is in step with the log up to this unit's last event."""
        self.cache.evict(self.moved - self.loaded)  # moved on but not caught up by this unit
        last = self.appended[-1] if self.appended else None
        self.cache.synced = LogHead(last.position, last.hash, last.recorded_at) if last else self.head

    def discard(self, *, trust_cache: bool = True) -> None:
        """Evict every stream this unit touched from the cache (after a failure).

        The other cached aggregates are untouched and the cache's in-step head stays as it was;
        events this unit may have committed after all show up as moved streams next time.
        ``trust_cache=False`` (after a concurrency conflict) makes the next unit start afresh.
        """
        self.cache.evict(list(self.pending) + list(self.loaded))
        if not trust_cache:
            self.cache.synced = None
