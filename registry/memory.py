"""The in-memory recorder: the log in lists, with the SQL recorder's semantics (see ``registry.recorder``).

Gap-free positions from 1, the same hash chain, ConcurrencyError when a stream moved on,
all-or-nothing sessions, append-only. One re-entrant lock stands for the database's write
lock: a write session holds it from start to end, and reads take it too, so no reader ever
sees a session's events before it commits. Nothing projects: read models live in SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from modelog.registry.errors import ConcurrencyError, ConflictError, InvalidInputError
from modelog.registry.recorder import (
    EMPTY_LOG,
    AppendRequest,
    EventRow,
    ImportClock,
    LogHead,
    NewEvent,
    Progress,
    Signer,
    StoredEvent,
    VerifyReport,
    append_checked,
    expected_versions,
    format_time,
    read_in_batches,
    signatures_of,
    utc_now,
)
from modelog.registry.sealing import event_to_row, row_to_event, seal, walk_chain
from modelog.registry.signing import SignedHash


class InMemoryRecorder:
    """An event store in this process's memory: for tests and tools that need no database."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, signer: Signer | None = None) -> None:
        self.clock = clock
        #: Signs every appended event, as the SQL recorder's signer does (None: unsigned).
        self.signer = signer
        self._signatures: dict[int, tuple[str, str]] = {}
        self._lock = threading.RLock()
        self._rows: list[EventRow] = []
        self._events: list[StoredEvent] = []
        self._streams: dict[str, list[StoredEvent]] = {}

    # --- writing -------------------------------------------------------------------

    def writer(self) -> MemoryWriter:
        """A writer for a sequence of write sessions (nothing to keep open)."""
        return MemoryWriter(self)

    @contextmanager
    def session(self) -> Iterator[MemoryWriteSession]:
        """A write session holding the lock; everything it appended is taken back if the block raises."""
        with self._lock:
            mark = len(self._events)
            try:
                yield MemoryWriteSession(self)
            except BaseException:
                self._truncate(mark)
                raise

    def append(self, stream_id: str, expected_version: int | None, new_events: Sequence[NewEvent],
               meta: dict[str, Any] | None = None) -> list[StoredEvent]:
        """Append ``new_events`` to one stream atomically; ConcurrencyError if it moved on."""
        return self.append_batch([AppendRequest(stream_id, expected_version, new_events)], meta)

    def append_batch(self, requests: Sequence[AppendRequest],
                     meta: dict[str, Any] | None = None) -> list[StoredEvent]:
        """Append to several streams in one all-or-nothing write session (``append_checked``)."""
        with self.session() as session:
            return append_checked(session, requests, dict(meta or {}))

    def import_rows(self, batches: Iterable[Sequence[EventRow]], progress: Progress | None = None) -> int:
        """Write sealed, verified rows into an empty log, all or nothing; return the count."""
        with self.session():
            if self._events:
                raise ConflictError("the registry is not empty; import only into a new registry")
            clock = ImportClock(format_time(self.clock()))
            for rows in batches:
                clock.check(rows)
                for row in rows:
                    self._add(row, row_to_event(row))
                self._signatures.update((position, (key_id, signature))
                                        for position, key_id, signature in signatures_of(rows))
                if progress:
                    progress(len(self._events))
            return len(self._events)

    def import_events(self, batch: Sequence[StoredEvent]) -> int:
        """Import already-sealed events verbatim into an empty log (see :meth:`import_rows`)."""
        return self.import_rows([[event_to_row(e) for e in batch]])

    def write(self, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead) -> list[StoredEvent]:
        """Seal and append after ``head``; the caller holds the lock (a session)."""
        versions = expected_versions(requests)
        if head != self._head():
            raise ConcurrencyError(requests[0].stream_id if requests else "", head.position, self._head().position,
                                   "another writer appended after the head this append was decided on; "
                                   "re-read and decide again")
        for request in requests:
            actual = len(self._streams.get(request.stream_id, ()))
            if versions[request.stream_id] != actual:
                raise ConcurrencyError(request.stream_id, versions[request.stream_id], actual)
        stored, rows = seal(requests, versions, dict(meta), head, format_time(self.clock()))
        signatures = [] if self.signer is None else [(r.position, self.signer.sign_event(r.position, r.hash))
                                                     for r in rows]
        for row, event in zip(rows, stored, strict=True):
            self._add(row, event)
        self._signatures.update(signatures)
        return stored

    def _add(self, row: EventRow, event: StoredEvent) -> None:
        if row.position != len(self._events) + 1:
            raise ConcurrencyError(row.stream_id, row.stream_version - 1, -1, "the log already holds position "
                                   f"{row.position}; re-read and decide again")
        self._rows.append(row)
        self._events.append(event)
        self._streams.setdefault(row.stream_id, []).append(event)

    def _truncate(self, length: int) -> None:
        for event in reversed(self._events[length:]):
            self._streams[event.stream_id].pop()
            if not self._streams[event.stream_id]:
                del self._streams[event.stream_id]
        for row in self._rows[length:]:
            self._signatures.pop(row.position, None)
        del self._events[length:], self._rows[length:]

    # --- reading -------------------------------------------------------------------

    def _head(self) -> LogHead:
        if not self._events:
            return EMPTY_LOG
        last = self._events[-1]
        return LogHead(last.position, last.hash, last.recorded_at)

    def head(self) -> int:
        """The position of the last event (0 for an empty log)."""
        with self._lock:
            return len(self._events)

    def log_head(self) -> LogHead:
        """The last event's position, hash and time (EMPTY_LOG for an empty log)."""
        with self._lock:
            return self._head()

    def stream_versions(self, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""
        with self._lock:
            return {stream_id: len(self._streams.get(stream_id, ())) for stream_id in stream_ids}

    def read_stream(self, stream_id: str, *, after_version: int = 0,
                    to_position: int | None = None) -> list[StoredEvent]:
        """Events of one stream in version order, optionally only up to a log position."""
        with self._lock:
            found = self._streams.get(stream_id, [])[max(after_version, 0):]
        return found if to_position is None else [e for e in found if e.position <= to_position]

    def read_all(self, *, from_position: int = 1, to_position: int | None = None, limit: int | None = None,
                 stream_prefix: str | None = None, stream_ids: Sequence[str] | None = None,
                 batch_size: int = 5_000) -> Iterator[StoredEvent]:
        """The log in position order, in batches of ``batch_size``."""
        return read_in_batches(lambda start, end, size: self._read_batch(start, end, size, stream_prefix, stream_ids),
                               from_position=from_position, to_position=to_position, limit=limit,
                               batch_size=batch_size)

    def _read_batch(self, start: int, end: int | None, size: int, prefix: str | None,
                    stream_ids: Sequence[str] | None) -> list[StoredEvent]:
        wanted = None if stream_ids is None else set(stream_ids)
        found: list[StoredEvent] = []
        with self._lock:
            for event in self._events[max(start, 1) - 1:end]:
                if (prefix is None or event.stream_id.startswith(prefix)) and (
                        wanted is None or event.stream_id in wanted):
                    found.append(event)
                    if len(found) == size:
                        break
        return found

    def position_at(self, moment: datetime) -> int:
        """The last log position recorded at or before ``moment`` (0 if none)."""
        if moment.tzinfo is None:
            raise InvalidInputError("as_of must be timezone-aware")
        limit = format_time(moment)
        with self._lock:
            return max((e.position for e in self._events if e.recorded_at <= limit), default=0)

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Walk the whole chain (the stored rows, as the SQL recorder does) and report the first broken link."""
        with self._lock:
            rows = list(self._rows)
        return walk_chain(rows, progress)

    def read_signed(self, *, from_position: int = 1, batch_size: int = 5_000) -> Iterator[SignedHash]:
        """Every event's position and hash with its stored signature (None: unsigned), in position order."""
        with self._lock:
            rows = self._rows[max(from_position, 1) - 1:]
            found = [SignedHash(r.position, r.hash, *self._signatures.get(r.position, (None, None))) for r in rows]
        return iter(found)


class MemoryWriteSession:
    """A write session of an :class:`InMemoryRecorder` (its lock held for the session's whole life)."""

    def __init__(self, recorder: InMemoryRecorder) -> None:
        self.recorder = recorder

    def log_head(self) -> LogHead:
        """The last event's position, hash and time."""
        return self.recorder.log_head()

    def moved_since(self, known: LogHead, limit: int) -> tuple[LogHead, set[str]] | None:
        """The head now and the streams appended to after ``known`` (None: ``known`` gone, or too far back)."""
        events = self.recorder.read_all(from_position=max(known.position, 1), limit=limit + 2)
        found = list(events)
        if known.position:
            if not found or found[0].position != known.position or found[0].hash != known.hash:
                return None
            found = found[1:]
        if len(found) > limit:
            return None
        if not found:
            return known, set()
        last = found[-1]
        return LogHead(last.position, last.hash, last.recorded_at), {e.stream_id for e in found}

    def read_stream(self, stream_id: str, after_version: int) -> list[StoredEvent]:
        """The events of one stream after ``after_version``, in version order."""
        return self.recorder.read_stream(stream_id, after_version=after_version)

    def stream_versions(self, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""
        return self.recorder.stream_versions(stream_ids)

    def append(self, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead) -> list[StoredEvent]:
        """Seal and append the requests' events after ``head`` (see ``WriteSession.append``)."""
        return self.recorder.write(requests, meta, head)


class MemoryWriter:
    """A writer of an :class:`InMemoryRecorder`: sessions one after another, nothing kept open."""

    def __init__(self, recorder: InMemoryRecorder) -> None:
        self.recorder = recorder

    @contextmanager
    def session(self) -> Iterator[MemoryWriteSession]:
        """A write session (see :meth:`InMemoryRecorder.session`)."""
        with self.recorder.session() as session:
            yield session

    def close(self) -> None:
        """Nothing to release."""

