"""The SQL recorder: the log in one ``events`` table on SQLite or PostgreSQL (see ``registry.recorder``).

Appends are serialised (SQLite's write lock, a transaction-scoped advisory lock on
PostgreSQL), so positions are gap-free and committed in order: a reader following the
log by position can never miss an event that commits later with a lower position.
Projectors run inside every append's transaction, so read models commit with the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from modelog.registry._sql.batches import read_stream_rows
from modelog.registry._sql.bulk import refresh_statistics, vacuum_after_bulk_load
from modelog.registry._sql.driver import DriverStatement
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry._sql.rows import insert_rows
from modelog.registry._sql.signatures import first_signed_position, insert_signatures, read_signed_batch
from modelog.registry.database import APPEND_LOCK_KEY, WriterConnection, describe_db_error, lock_appends, transaction
from modelog.registry.errors import (
    ConcurrencyError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    PermissionDeniedError,
)
from modelog.registry.guards import CLOCK_GUARD_MARKER, check_before_append, check_before_write
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
    parse_time,
    read_in_batches,
    signatures_of,
    utc_now,
)
from modelog.registry.schema import events
from modelog.registry.sealing import event_to_row, row_to_event, seal, walk_chain
from modelog.registry.signing import SignedHash
from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, Row

__all__ = [
    "APPEND_LOCK_KEY", "EMPTY_LOG", "AppendRequest", "EventStore", "LogHead", "NewEvent", "Projector",
    "SqlWriteSession", "StoredEvent", "VerifyReport", "format_time", "lock_appends", "parse_time", "utc_now",
]

# Hot-path statements, compiled once per dialect (see registry._sql.driver).
_c = events.c
_READ_STREAM = DriverStatement(
    events.select().where(_c.stream_id == bindparam("stream_id"), _c.stream_version > bindparam("after"))
    .order_by(_c.stream_version))
_READ_STREAM_UNTIL = DriverStatement(
    events.select().where(_c.stream_id == bindparam("stream_id"), _c.stream_version > bindparam("after"),
                          _c.position <= bindparam("until"))
    .order_by(_c.stream_version))
_READ_FROM = DriverStatement(
    events.select().where(_c.position >= bindparam("start")).order_by(_c.position).limit(bindparam("size")))
_READ_RANGE = DriverStatement(
    events.select().where(_c.position >= bindparam("start"), _c.position <= bindparam("end"))
    .order_by(_c.position).limit(bindparam("size")))
_HEAD = DriverStatement(select(func.coalesce(func.max(_c.position), 0)))
#: The last position recorded at or before a moment: the last event of the latest time at or before it, two
#: probes of the ``recorded_at`` index. Times never decrease along the log (the clock guard refuses an append
#: dated before the head, an import checks its file's order), so that is ``max(position)`` of every event
#: recorded by then, which PostgreSQL planned as a backward walk of the whole log from its end (8 s at the
#: middle of 1.12M events) and SQLite as a scan of the index up to the moment (68 ms at 57,000 events).
_POSITION_AT = DriverStatement(select(func.coalesce(func.max(_c.position), 0)).where(
    _c.recorded_at == select(func.max(_c.recorded_at)).where(_c.recorded_at <= bindparam("moment"))
    .correlate(None).scalar_subquery()))
_HEAD_ROW = DriverStatement(select(_c.position, _c.hash, _c.recorded_at).order_by(_c.position.desc()).limit(1))
_SINCE = DriverStatement(
    select(_c.position, _c.hash, _c.recorded_at, _c.stream_id).where(_c.position >= bindparam("since"))
    .order_by(_c.position).limit(bindparam("size")))


@lru_cache(maxsize=32)
def _stream_versions_statement(count: int) -> DriverStatement:
    """``max(stream_version)`` per stream for ``count`` stream ids (binds ``s0``..)."""
    ids: list[BindParameter[str]] = [bindparam(f"s{i}") for i in range(count)]
    return DriverStatement(select(_c.stream_id, func.max(_c.stream_version)).where(_c.stream_id.in_(ids))
                           .group_by(_c.stream_id))


class Projector(Protocol):
    """Something that updates read models from freshly appended events, in the append's transaction."""

    def project(self, conn: Connection, events: Sequence[Any]) -> None:
        """Apply ``events`` (already in the log, same transaction) to the read models.

        The events are StoredEvents after an append and ``_sql.raw_events.RowEvent``s after an
        import: the same attributes, which is all a projector reads (hence ``Any``).
        """


class SqlWriteSession:
    """A write session on one connection whose transaction holds the append lock."""

    def __init__(self, store: EventStore, conn: Connection) -> None:
        self.store, self.conn = store, conn

    def log_head(self) -> LogHead:
        """The last event's position, hash and time (EMPTY_LOG for an empty log)."""
        return self.store.log_head(self.conn)

    def moved_since(self, known: LogHead, limit: int) -> tuple[LogHead, set[str]] | None:
        """The head now and the streams appended to after ``known``, in one query (see ``WriteSession``)."""
        return _moved_since(self.conn, known, limit)

    def read_stream(self, stream_id: str, after_version: int) -> list[StoredEvent]:
        """The events of one stream after ``after_version``, in version order."""
        return self.store.read_stream(stream_id, after_version=after_version, conn=self.conn)

    def stream_versions(self, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""
        return self.store.stream_versions(stream_ids, self.conn)

    def append(self, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead) -> list[StoredEvent]:
        """Seal, insert and project the requests' events after ``head`` (see ``WriteSession.append``)."""
        return self.store.write(self.conn, requests, meta, head)


class SqlWriter:
    """A command service's writer: sessions on one kept connection (``WriterConnection``)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.connection = WriterConnection(store.engine)

    @contextmanager
    def session(self) -> Iterator[SqlWriteSession]:
        """A write session on the kept connection (a fresh one after a database failure)."""
        with self.connection.transaction() as conn:
            yield SqlWriteSession(self.store, conn)

    def close(self) -> None:
        """Give the kept connection back."""
        self.connection.close()


def refuse_unsigned_append(first_signed: int | None) -> None:
    """Refuse (PermissionDeniedError) an append without the signing key on a log whose signing has begun.

    Once a log carries signatures, every later event must be signed (``log verify --public-key`` names any
    that is not): a writer without the key (a local CLI pointed at the server's database, say) is stopped
    here rather than leaving a gap an auditor must explain. It stops modelog, not a hand-written INSERT;
    the signatures expose those. ``first_signed``: the log's first signed position (``guards.check_before_append``).
    """
    if first_signed is not None:
        raise PermissionDeniedError(
            f"refusing to append unsigned events: this registry's log is signed from position {first_signed} on; set "
            "MODELOG_SIGNING_KEY to the signing key's file (or write through the server that holds it)")


@dataclass
class EventStore:
    """The SQL recorder: appends through write sessions, runs its projectors inside every append."""

    engine: Engine
    projectors: list[Projector] = field(default_factory=list)
    #: The clock events are dated by; None (the default): the clock of record, the database server's on
    #: PostgreSQL (read in the append's transaction), this machine's on SQLite (see ``registry.guards``).
    clock: Callable[[], datetime] | None = None
    #: Signs every appended event (stored in ``event_signatures`` in the append's transaction); None: unsigned.
    signer: Signer | None = None

    def signed_from(self, conn: Connection) -> int | None:
        """The first position carrying a signature (None: signing never began; every later append needs the key)."""
        return first_signed_position(conn)

    # --- writing -------------------------------------------------------------------

    def writer(self) -> SqlWriter:
        """A writer keeping one connection for its sessions (the command service's)."""
        return SqlWriter(self)

    @contextmanager
    def session(self) -> Iterator[SqlWriteSession]:
        """A write session on a pooled connection (one-off writes: tools, tests)."""
        with transaction(self.engine, write=True) as conn:
            lock_appends(conn)
            yield SqlWriteSession(self, conn)

    def append(self, stream_id: str, expected_version: int | None, new_events: Sequence[NewEvent],
               meta: dict[str, Any] | None = None) -> list[StoredEvent]:
        """Append ``new_events`` to one stream atomically; ConcurrencyError if it moved on."""
        return self.append_batch([AppendRequest(stream_id, expected_version, new_events)], meta)

    def append_batch(self, requests: Sequence[AppendRequest], meta: dict[str, Any] | None = None) -> list[StoredEvent]:
        """Append to several streams in one all-or-nothing write session (``append_checked``)."""
        with self.session() as session:
            return append_checked(session, requests, meta)

    def write(self, conn: Connection, requests: Sequence[AppendRequest], meta: dict[str, Any],
              head: LogHead) -> list[StoredEvent]:
        """Append in ``conn``'s write transaction after ``head`` (read under the same lock); project the events."""
        lock_appends(conn)
        # The guards are in place (and, on PostgreSQL, the server's clock); where signing began, if it did.
        server_now, first_signed = check_before_append(conn)
        now = self.clock() if self.clock is not None else server_now or utc_now()
        stored, rows = seal(requests, expected_versions(requests), meta, head, format_time(now))
        if stored:
            if self.signer is None:
                refuse_unsigned_append(first_signed)
            signatures = None if self.signer is None else [
                (row.position, *self.signer.sign_event(row.position, row.hash)) for row in rows]
            _insert(conn, requests, rows)
            if signatures:
                insert_signatures(conn, signatures)
            for projector in self.projectors:
                projector.project(conn, stored)
        return stored

    def import_rows(self, batches: Iterable[Sequence[EventRow]], progress: Progress | None = None) -> int:
        """Write sealed, verified rows into an empty log in one transaction and project them; return the count."""
        count = 0
        with transaction(self.engine, write=True) as conn:
            lock_appends(conn)  # no append (or second import) may slip in between the emptiness check and the insert
            server_now = check_before_write(conn)
            if self.head(conn) != 0:
                raise ConflictError("the registry is not empty; import only into a new registry")
            clock = ImportClock(format_time(server_now or utc_now()))
            for rows in batches:
                clock.check(rows)
                insert_rows(conn, rows)
                signatures = signatures_of(rows)
                if signatures:
                    insert_signatures(conn, signatures)
                if self.projectors:
                    replayed = [RowEvent.of(row) for row in rows]
                    for projector in self.projectors:
                        projector.project(conn, replayed)
                count += len(rows)
                if progress:
                    progress(count)
            refresh_statistics(conn)  # the registry was empty: every table of it was just written
        vacuum_after_bulk_load(self.engine)
        return count

    def import_events(self, batch: Sequence[StoredEvent]) -> int:
        """Import already-sealed events verbatim into an empty log (see :meth:`import_rows`)."""
        return self.import_rows([[event_to_row(e) for e in batch]])

    # --- reading -------------------------------------------------------------------

    def stream_versions(self, stream_ids: Iterable[str], conn: Connection | None = None) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""
        ids = list(stream_ids)
        if not ids:
            return {}
        if conn is None:
            with transaction(self.engine) as own:
                return self.stream_versions(ids, own)
        statement = _stream_versions_statement(len(ids))
        rows = statement.execute(conn, {f"s{i}": stream_id for i, stream_id in enumerate(ids)}).all()
        found: dict[str, int | None] = {row[0]: row[1] for row in rows}
        return {stream_id: int(found.get(stream_id) or 0) for stream_id in ids}

    def read_stream(self, stream_id: str, *, after_version: int = 0, to_position: int | None = None,
                    conn: Connection | None = None) -> list[StoredEvent]:
        """Events of one stream in version order, optionally only up to a log position."""
        params = {"stream_id": stream_id, "after": after_version, "until": to_position}
        statement = _READ_STREAM if to_position is None else _READ_STREAM_UNTIL
        if conn is not None:
            return [row_to_event(row) for row in statement.execute(conn, params)]
        with transaction(self.engine) as own:
            return [row_to_event(row) for row in statement.execute(own, params)]

    def read_stream_rows(self, stream_id: str, to_position: int, conn: Connection | None = None) -> list[Row[Any]]:
        """Raw rows of one stream up to a log position, in version order, undecoded (``_sql.rows.RAW_COLUMNS``).

        For replays that decode only what they use; :meth:`read_stream` is the same read, decoded.
        """
        if conn is not None:
            return read_stream_rows(conn, stream_id, to_position)
        with transaction(self.engine) as own:
            return read_stream_rows(own, stream_id, to_position)

    def read_all(self, *, from_position: int = 1, to_position: int | None = None, limit: int | None = None,
                 stream_prefix: str | None = None, stream_ids: Sequence[str] | None = None, batch_size: int = 5_000,
                 conn: Connection | None = None) -> Iterator[StoredEvent]:
        """Stream the log in position order, in batches (memory stays flat however long the log)."""
        return read_in_batches(lambda start, end, size: self._read_batch(start, end, size, stream_prefix, stream_ids,
                                                                         conn),
                               from_position=from_position, to_position=to_position, limit=limit,
                               batch_size=batch_size)

    def _read_batch(self, start: int, end: int | None, size: int, prefix: str | None,
                    stream_ids: Sequence[str] | None, conn: Connection | None = None) -> list[StoredEvent]:
        if prefix is None and stream_ids is None and conn is not None:
            statement = _READ_FROM if end is None else _READ_RANGE
            return [row_to_event(row) for row in statement.execute(conn, {"start": start, "end": end, "size": size})]
        query = events.select().where(events.c.position >= start)
        if end is not None:
            query = query.where(events.c.position <= end)
        if prefix is not None:
            query = query.where(events.c.stream_id.startswith(prefix, autoescape=True))
        if stream_ids is not None:
            query = query.where(events.c.stream_id.in_(list(stream_ids)))
        query = query.order_by(events.c.position).limit(size)
        if conn is not None:
            return [row_to_event(row) for row in conn.execute(query)]
        with transaction(self.engine) as own:
            return [row_to_event(row) for row in own.execute(query)]

    def head(self, conn: Connection | None = None) -> int:
        """The position of the last event (0 for an empty log)."""
        if conn is None:
            with transaction(self.engine) as own:
                return self.head(own)
        return int(_HEAD.execute(conn).scalar_one())

    def log_head(self, conn: Connection | None = None) -> LogHead:
        """The last event's position, hash and time (EMPTY_LOG for an empty log)."""
        if conn is None:
            with transaction(self.engine) as own:
                return self.log_head(own)
        row = _HEAD_ROW.execute(conn).first()
        return EMPTY_LOG if row is None else LogHead(int(row[0]), row[1], row[2])

    def position_at(self, moment: datetime, conn: Connection | None = None) -> int:
        """The last log position recorded at or before ``moment`` (0 if none)."""
        if moment.tzinfo is None:
            raise InvalidInputError("as_of must be timezone-aware")
        if conn is None:
            with transaction(self.engine) as own:
                return self.position_at(moment, own)
        return int(_POSITION_AT.fetchall(conn, {"moment": format_time(moment)})[0][0])

    # --- integrity -----------------------------------------------------------------

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Walk the whole log and report the first position whose chain link is broken."""
        return walk_chain(self._raw_rows(), progress)

    def read_signed(self, *, from_position: int = 1, batch_size: int = 5_000) -> Iterator[SignedHash]:
        """Every event's position and hash with its stored signature (None: unsigned), in position order.

        Each batch is its own short transaction, as :meth:`verify` reads the chain.
        """
        start = from_position
        while True:
            with transaction(self.engine) as conn:
                batch = read_signed_batch(conn, start, batch_size)
            yield from batch
            if len(batch) < batch_size:
                return
            start = batch[-1].position + 1

    def _raw_rows(self, batch_size: int = 10_000) -> Iterator[Row[Any]]:
        cursor = -(2**62)
        while True:
            query = events.select().where(events.c.position > cursor).order_by(events.c.position).limit(batch_size)
            with transaction(self.engine) as conn:
                rows = conn.execute(query).all()
            yield from rows
            if len(rows) < batch_size:
                return
            cursor = rows[-1].position


def _moved_since(conn: Connection, known: LogHead, limit: int) -> tuple[LogHead, set[str]] | None:
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


def _insert(conn: Connection, requests: Sequence[AppendRequest], rows: list[EventRow]) -> None:
    """Insert sealed events; a (stream, version) or position collision means another writer won the race."""
    try:
        insert_rows(conn, rows)
    except sa_exc.IntegrityError as error:
        if CLOCK_GUARD_MARKER in str(error.orig):  # the database's clock guard: no race, a bad time
            raise IntegrityError(f"the database refused the append: {describe_db_error(error)}") from error
        streams = ", ".join(repr(r.stream_id) for r in requests)
        first = requests[0]
        raise ConcurrencyError(
            first.stream_id, first.expected_version if first.expected_version is not None else -1, -1,
            f"another writer appended to {streams} first (the log already holds the positions or stream "
            f"versions this append computed); re-read and decide again",
        ) from error

