"""The event store: an append-only, hash-chained log keyed by (stream, version) with a global position.

Appends are serialised (SQLite's write lock, a transaction-scoped advisory lock on
PostgreSQL), so positions are gap-free and committed in order: a reader following the
log by position can never miss an event that commits later with a lower position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from modelog.registry.database import append_lock_taken_at_begin, transaction
from modelog.registry.driver_sql import DriverStatement, PositionalInsert
from modelog.registry.errors import ConcurrencyError, InvalidInputError
from modelog.registry.hashing import GENESIS_HASH, canonical_json, chain_hash
from modelog.registry.json_decode import decode_json
from modelog.registry.schema import events
from sqlalchemy import bindparam, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

#: Advisory lock key that serialises appends on PostgreSQL.
APPEND_LOCK_KEY = 4242002
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# Hot-path statements, compiled once per dialect (see registry.driver_sql).
_c = events.c
_READ_STREAM = DriverStatement(
    events.select().where(_c.stream_id == bindparam("stream_id"), _c.stream_version > bindparam("after"))
    .order_by(_c.stream_version))
_READ_STREAM_UNTIL = DriverStatement(
    events.select().where(_c.stream_id == bindparam("stream_id"), _c.stream_version > bindparam("after"),
                          _c.position <= bindparam("until"))
    .order_by(_c.stream_version))
#: The columns a projector uses, in the order ``read_stream_rows`` returns them.
RAW_COLUMNS = (_c.position, _c.stream_id, _c.event_type, _c.schema_version, _c.data, _c.meta, _c.recorded_at)
_READ_STREAM_ROWS_UNTIL = DriverStatement(
    select(*RAW_COLUMNS).where(_c.stream_id == bindparam("stream_id"), _c.position <= bindparam("until"))
    .order_by(_c.stream_version))
_READ_FROM = DriverStatement(
    events.select().where(_c.position >= bindparam("start")).order_by(_c.position).limit(bindparam("size")))
_READ_RANGE = DriverStatement(
    events.select().where(_c.position >= bindparam("start"), _c.position <= bindparam("end"))
    .order_by(_c.position).limit(bindparam("size")))
_HEAD = DriverStatement(select(func.coalesce(func.max(_c.position), 0)))
_HEAD_ROW = DriverStatement(select(_c.position, _c.hash, _c.recorded_at).order_by(_c.position.desc()).limit(1))
_SINCE = DriverStatement(
    select(_c.position, _c.hash, _c.recorded_at, _c.stream_id).where(_c.position >= bindparam("since"))
    .order_by(_c.position).limit(bindparam("size")))
_INSERT = DriverStatement(events.insert())
_INSERT_ROWS = PositionalInsert(events)
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"


@lru_cache(maxsize=32)
def _stream_versions_statement(count: int) -> DriverStatement:
    """``max(stream_version)`` per stream for ``count`` stream ids (binds ``s0``..)."""
    ids = [bindparam(f"s{i}") for i in range(count)]
    return DriverStatement(select(_c.stream_id, func.max(_c.stream_version)).where(_c.stream_id.in_(ids))
                           .group_by(_c.stream_id))


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: its type, schema version and JSON data."""

    event_type: str
    schema_version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class AppendRequest:
    """Events for one stream, valid only if the stream is still at ``expected_version``."""

    stream_id: str
    expected_version: int | None
    events: Sequence[NewEvent]


@dataclass(frozen=True)
class LogHead:
    """The last event of the log: where the next append continues the chain (position 0: empty log)."""

    position: int
    hash: str
    recorded_at: str | None


EMPTY_LOG = LogHead(0, GENESIS_HASH, None)


@dataclass(frozen=True)
class StoredEvent:
    """An event as recorded in the log."""

    position: int
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    meta: dict[str, Any]
    recorded_at: str
    prev_hash: str
    hash: str

    @property
    def recorded_datetime(self) -> datetime:
        """``recorded_at`` as an aware UTC datetime."""
        return parse_time(self.recorded_at)


class Projector(Protocol):
    """Something that updates read models from freshly appended events, in the append's transaction."""

    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Apply ``events`` (already in the log, same transaction) to the read models."""


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of walking the hash chain."""

    checked: int
    first_bad_position: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when every event checked out."""
        return self.first_bad_position is None


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text that sorts like the instant it names."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """Parse a stored timestamp back into an aware datetime."""
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _row_to_event(row: Any) -> StoredEvent:
    # Rows of events.select(): columns in table order, which is StoredEvent's field order.
    position, stream_id, stream_version, event_type, schema_version, data, meta, recorded_at, prev_hash, digest = row
    return StoredEvent(position, stream_id, stream_version, event_type, schema_version, json.loads(data),
                       json.loads(meta), recorded_at, prev_hash, digest)


@dataclass
class EventStore:
    """Appends to and reads from the log; runs its projectors inside every append."""

    engine: Engine
    projectors: list[Projector] = field(default_factory=list)
    clock: Callable[[], datetime] = utc_now

    # --- writing -------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int | None,
        new_events: Sequence[NewEvent],
        meta: dict[str, Any] | None = None,
        *,
        conn: Connection | None = None,
    ) -> list[StoredEvent]:
        """Append ``new_events`` to one stream atomically; ConcurrencyError if it moved on."""
        return self.append_batch([AppendRequest(stream_id, expected_version, new_events)], meta, conn=conn)

    def append_batch(
        self,
        requests: Sequence[AppendRequest],
        meta: dict[str, Any] | None = None,
        *,
        conn: Connection | None = None,
    ) -> list[StoredEvent]:
        """Append to several streams in one all-or-nothing transaction."""
        if conn is None:
            with transaction(self.engine, write=True) as own:
                return self.append_batch(requests, meta, conn=own)
        lock_appends(conn)
        versions = self._check_expected(conn, requests)
        return self._write(conn, requests, versions, meta or {}, self.log_head(conn))

    def append_locked(
        self, conn: Connection, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead
    ) -> list[StoredEvent]:
        """Append without re-reading what the caller read in this same write transaction.

        The caller vouches that ``head`` and every request's ``expected_version`` were read under
        the write lock ``conn`` holds (a unit of work does). The unique (stream, version) and
        position keys still turn any mistake into a ConcurrencyError, never a forked chain.
        """
        lock_appends(conn)
        _check_distinct(requests)
        versions = {r.stream_id: _required_version(r) for r in requests}
        return self._write(conn, requests, versions, meta, head)

    def _write(
        self, conn: Connection, requests: Sequence[AppendRequest], versions: dict[str, int], meta: dict[str, Any],
        head: LogHead,
    ) -> list[StoredEvent]:
        stored, rows = _build(requests, versions, meta, head, format_time(self.clock()))
        if stored:
            _insert(conn, requests, rows)
            for projector in self.projectors:
                projector.project(conn, stored)
        return stored

    def _check_expected(self, conn: Connection, requests: Sequence[AppendRequest]) -> dict[str, int]:
        versions = self.stream_versions(conn, _check_distinct(requests))
        for request in requests:
            actual = versions[request.stream_id]
            if request.expected_version is not None and request.expected_version != actual:
                raise ConcurrencyError(request.stream_id, request.expected_version, actual)
        return versions

    def import_events(self, conn: Connection, batch: Sequence[StoredEvent]) -> None:
        """Insert already-sealed events verbatim and project them (see :meth:`import_rows`)."""
        self.import_rows(conn, [tuple(_event_to_row(e).values()) for e in batch], batch)

    def import_rows(self, conn: Connection, rows: Sequence[Sequence[Any]], batch: Sequence[Any]) -> None:
        """Insert already-sealed, verified rows verbatim (``events`` column order); project ``batch``, their events."""
        _INSERT_ROWS.executemany(conn, rows)
        for projector in self.projectors:
            projector.project(conn, batch)

    # --- reading -------------------------------------------------------------------

    def stream_versions(self, conn: Connection, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""
        ids = list(stream_ids)
        if not ids:
            return {}
        statement = _stream_versions_statement(len(ids))
        found = dict(statement.execute(conn, {f"s{i}": stream_id for i, stream_id in enumerate(ids)}).all())
        return {stream_id: int(found.get(stream_id) or 0) for stream_id in ids}

    def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_position: int | None = None,
        conn: Connection | None = None,
    ) -> list[StoredEvent]:
        """Events of one stream in version order, optionally only up to a log position."""
        params = {"stream_id": stream_id, "after": after_version, "until": to_position}
        statement = _READ_STREAM if to_position is None else _READ_STREAM_UNTIL
        if conn is not None:
            return [_row_to_event(row) for row in statement.execute(conn, params)]
        with transaction(self.engine) as own:
            return [_row_to_event(row) for row in statement.execute(own, params)]

    def read_stream_rows(self, stream_id: str, to_position: int, conn: Connection | None = None) -> list[Any]:
        """Raw rows of one stream up to a log position, in version order, undecoded (see ``RAW_COLUMNS``).

        For replays that decode only what they use; :meth:`read_stream` is the same read, decoded.
        """
        params = {"stream_id": stream_id, "until": to_position}
        if conn is not None:
            return _READ_STREAM_ROWS_UNTIL.execute(conn, params).fetchall()
        with transaction(self.engine) as own:
            return _READ_STREAM_ROWS_UNTIL.execute(own, params).fetchall()

    def read_all(
        self,
        *,
        from_position: int = 1,
        to_position: int | None = None,
        limit: int | None = None,
        stream_prefix: str | None = None,
        stream_ids: Sequence[str] | None = None,
        batch_size: int = 5_000,
        conn: Connection | None = None,
    ) -> Iterator[StoredEvent]:
        """Stream the log in position order, in batches (memory stays flat however long the log)."""
        remaining = limit
        cursor = from_position
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            batch = self._read_batch(cursor, to_position, size, stream_prefix, stream_ids, conn)
            yield from batch
            if len(batch) < size:
                return
            cursor = batch[-1].position + 1
            if remaining is not None:
                remaining -= len(batch)

    def _read_batch(
        self, start: int, end: int | None, size: int, prefix: str | None, stream_ids: Sequence[str] | None,
        conn: Connection | None = None,
    ) -> list[StoredEvent]:
        if prefix is None and stream_ids is None and conn is not None:
            statement = _READ_FROM if end is None else _READ_RANGE
            return [_row_to_event(row) for row in statement.execute(conn, {"start": start, "end": end, "size": size})]
        query = events.select().where(events.c.position >= start)
        if end is not None:
            query = query.where(events.c.position <= end)
        if prefix is not None:
            query = query.where(events.c.stream_id.startswith(prefix, autoescape=True))
        if stream_ids is not None:
            query = query.where(events.c.stream_id.in_(list(stream_ids)))
        query = query.order_by(events.c.position).limit(size)
        if conn is not None:
            return [_row_to_event(row) for row in conn.execute(query)]
        with transaction(self.engine) as own:
            return [_row_to_event(row) for row in own.execute(query)]

    def head(self, conn: Connection | None = None) -> int:
        """The position of the last event (0 for an empty log)."""
        if conn is None:
            with transaction(self.engine) as own:
                return self.head(own)
        return int(_HEAD.execute(conn).scalar_one())

    def log_head(self, conn: Connection) -> LogHead:
        """The last event's position, hash and time (EMPTY_LOG for an empty log)."""
        row = _HEAD_ROW.execute(conn).first()
        return EMPTY_LOG if row is None else LogHead(int(row[0]), row[1], row[2])

    def moved_since(self, conn: Connection, known: LogHead, limit: int) -> tuple[LogHead, set[str]] | None:
        """The head now and the streams appended to after ``known``, in one query.

        None when ``known`` is no longer in the log (a different or rewound log) or when more
        than ``limit`` events followed it.
        """
        rows = _SINCE.fetchall(conn, {"since": known.position, "size": limit + 2})  # before every command
        if known.position:
            if not rows or rows[0][0] != known.position or rows[0][1] != known.hash:
                return None
            rows = rows[1:]
        if len(rows) > limit:
            return None
        if not rows:
            return known, set()
        position, digest, recorded_at, _ = rows[-1]
        return LogHead(int(position), digest, recorded_at), {row[3] for row in rows}

    def position_at(self, moment: datetime, conn: Connection | None = None) -> int:
        """The last log position recorded at or before ``moment`` (0 if none)."""
        if moment.tzinfo is None:
            raise InvalidInputError("as_of must be timezone-aware")
        query = select(func.coalesce(func.max(events.c.position), 0)).where(
            events.c.recorded_at <= format_time(moment)
        )
        if conn is not None:
            return int(conn.execute(query).scalar_one())
        with transaction(self.engine) as own:
            return int(own.execute(query).scalar_one())

    # --- integrity -----------------------------------------------------------------

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Walk the whole log and report the first position whose chain link is broken."""
        prev_hash, expected_position, checked = GENESIS_HASH, 1, 0
        for event in self._raw_rows():
            problem = check_link(event, expected_position, prev_hash)
            if problem:
                return VerifyReport(checked, min(expected_position, event.position), problem)
            prev_hash, expected_position, checked = event.hash, expected_position + 1, checked + 1
            if progress and checked % 10_000 == 0:
                progress(checked)
        return VerifyReport(checked)

    def _raw_rows(self, batch_size: int = 10_000) -> Iterator[Any]:
        cursor = -(2**62)
        while True:
            query = events.select().where(events.c.position > cursor).order_by(events.c.position).limit(batch_size)
            with transaction(self.engine) as conn:
                rows = conn.execute(query).all()
            yield from rows
            if len(rows) < batch_size:
                return
            cursor = rows[-1].position


def check_link(row: Any, expected_position: int, prev_hash: str) -> str | None:
    """Why the stored row at ``expected_position`` breaks the chain after ``prev_hash`` (None if intact)."""
    if row.position > expected_position:
        return f"position {expected_position} is missing (next stored position is {row.position})"
    if row.position < expected_position:
        return f"unexpected event at position {row.position} (expected position {expected_position} next)"
    if row.prev_hash != prev_hash:
        return "prev_hash does not match the previous event's hash"
    recomputed = chain_hash(
        row.prev_hash, row.position, row.stream_id, row.stream_version, row.event_type,
        row.schema_version, row.data, row.meta, row.recorded_at,
    )
    if recomputed != row.hash:
        return "stored hash does not match the event's contents"
    return None


def _check_distinct(requests: Sequence[AppendRequest]) -> set[str]:
    streams = {r.stream_id for r in requests}
    if len(streams) != len(requests):
        raise InvalidInputError("one append names the same stream twice")
    return streams


def _required_version(request: AppendRequest) -> int:
    if request.expected_version is None:
        raise InvalidInputError(f"append_locked needs the expected version of {request.stream_id!r}")
    return request.expected_version


def _build(
    requests: Sequence[AppendRequest], versions: dict[str, int], meta: dict[str, Any], head: LogHead, now: str
) -> tuple[list[StoredEvent], list[dict[str, Any]]]:
    """Seal the requests' events after ``head``: the stored events and their rows (each JSON text built once)."""
    position, prev_hash = head.position, head.hash
    recorded_at = max(now, head.recorded_at) if head.recorded_at else now  # never earlier than the log's end
    meta_text = canonical_json(meta)
    stored: list[StoredEvent] = []
    rows: list[dict[str, Any]] = []
    for request in requests:
        for offset, new in enumerate(request.events, start=1):
            position += 1
            version = versions[request.stream_id] + offset
            data_text = canonical_json(new.data)
            digest = chain_hash(prev_hash, position, request.stream_id, version, new.event_type, new.schema_version,
                                data_text, meta_text, recorded_at)
            event = StoredEvent(position, request.stream_id, version, new.event_type, new.schema_version,
                                decode_json(data_text), meta, recorded_at, prev_hash, digest)
            stored.append(event)
            rows.append(event_row(event, data_text, meta_text))
            prev_hash = digest
    return stored, rows


def event_row(event: StoredEvent, data_text: str, meta_text: str) -> dict[str, Any]:
    """The stored row of ``event`` given the canonical JSON texts of its data and meta."""
    return {
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "data": data_text,
        "meta": meta_text,
        "recorded_at": event.recorded_at,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _event_to_row(event: StoredEvent) -> dict[str, Any]:
    return event_row(event, canonical_json(event.data), canonical_json(event.meta))


def lock_appends(conn: Connection) -> None:
    """Serialise with every other appender until ``conn``'s transaction ends (SQLite: its write lock does)."""
    if conn.dialect.name == "postgresql" and not append_lock_taken_at_begin(conn):
        conn.exec_driver_sql(_LOCK_SQL)


def _insert(conn: Connection, requests: Sequence[AppendRequest], rows: list[dict[str, Any]]) -> None:
    """Insert sealed events; a (stream, version) or position collision means another writer won the race."""
    try:
        _INSERT.executemany(conn, rows)
    except sa_exc.IntegrityError as error:
        streams = ", ".join(repr(r.stream_id) for r in requests)
        first = requests[0]
        raise ConcurrencyError(
            first.stream_id, first.expected_version if first.expected_version is not None else -1, -1,
            f"another writer appended to {streams} first (the log already holds the positions or stream "
            f"versions this append computed); re-read and decide again",
        ) from error
