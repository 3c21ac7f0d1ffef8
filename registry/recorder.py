"""The event-store port (the "recorder"): what the command layer, import, export and reads need of the log.

Two implementations: :class:`modelog.registry.store.EventStore` (SQLite and PostgreSQL, projectors
run inside the append transaction) and :class:`modelog.registry.memory.InMemoryRecorder`. The
contract suite (``tests/integration/test_store_contract.py``) holds both to the same behaviour.

The write path is the one production runs: open a write session (a transaction holding the
append lock), read the head, or the streams moved since a known head, or a stream's events after
a version; append sealed events after that head; commit by leaving the session. Leaving it with
an exception writes nothing. :func:`append_checked` is the same path for callers that know only
the expected versions (tests, tools).

This module imports nothing heavy: an in-memory recorder never loads SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from modelog.registry.errors import ConcurrencyError, IntegrityError, InvalidInputError
from modelog.registry.hashing import GENESIS_HASH
from modelog.registry.signing import PublicKey, SignedHash

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: How far an event's time may run ahead of the clock of record: an imported event, or the head after that
#: clock stepped back. Beyond it an import is refused, and so is an append (it would date events in the future).
MAX_CLOCK_LEAD = timedelta(seconds=60)


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


class EventRow(NamedTuple):
    """An event as stored: JSON as canonical text, fields in the ``events`` table's column order.

    The one shape of a stored row: appends build it by name, the SQL recorder inserts it as a
    tuple (``registry._sql.rows`` checks at import that the column order matches the table),
    and an import carries it from the checked line to the insert.
    """

    position: int
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: str
    meta: str
    recorded_at: str
    prev_hash: str
    hash: str


#: An imported event's signature as ``event_signatures`` stores it: ``(position, key_id, signature hex)``.
ImportedSignature = tuple[int, str, str]


class SignedRows(list[EventRow]):
    """A batch of imported rows with the signatures an export carried beside them.

    A plain list of rows everywhere a batch is expected; ``import_rows`` also stores ``signatures``
    (see :func:`signatures_of`), in the same transaction as the rows.
    """

    def __init__(self, rows: Iterable[EventRow] = (), signatures: Iterable[ImportedSignature] = ()) -> None:
        super().__init__(rows)
        self.signatures = list(signatures)


def signatures_of(rows: Sequence[EventRow]) -> Sequence[ImportedSignature]:
    """The signatures imported with a batch of rows (none for a plain sequence of rows)."""
    return rows.signatures if isinstance(rows, SignedRows) else ()


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


Progress = Callable[[int], None]


class Signer(Protocol):
    """Signs each event a recorder appends, and checkpoints (``registry.signing.KeyFileSigner``)."""

    @property
    def key_id(self) -> str:
        """The key's id, stored beside each signature."""

    @property
    def public_key(self) -> PublicKey:
        """The public half of the key."""

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message``."""

    def sign_event(self, position: int, digest: str) -> tuple[str, str]:
        """``(key_id, signature as hex)`` of the event at ``position`` whose hash is ``digest``."""


class WriteSession(Protocol):
    """One write transaction holding the append lock: read what to decide on, then append after the head."""

    def log_head(self) -> LogHead:
        """The last event's position, hash and time (``EMPTY_LOG`` for an empty log)."""

    def moved_since(self, known: LogHead, limit: int) -> tuple[LogHead, set[str]] | None:
        """The head now and the streams appended to after ``known``.

        None when ``known`` is no longer in the log (a different or rewound log) or when more
        than ``limit`` events followed it.
        """

    def read_stream(self, stream_id: str, after_version: int) -> list[StoredEvent]:
        """The events of one stream after ``after_version``, in version order."""

    def stream_versions(self, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""

    def append(self, requests: Sequence[AppendRequest], meta: dict[str, Any], head: LogHead) -> list[StoredEvent]:
        """Seal and append the requests' events after ``head``, each stream after its expected version.

        ``head`` and every ``expected_version`` must have been read in this session. A mistake
        (another writer's events in between) is a ConcurrencyError, never a forked chain.
        """


class Writer(Protocol):
    """Opens write sessions one after another (a command service keeps one)."""

    def session(self) -> AbstractContextManager[WriteSession]:
        """A write session: committed when the block ends, rolled back (nothing written) if it raises."""

    def close(self) -> None:
        """Release what the writer keeps open (the next session opens it again)."""


class Recorder(Protocol):
    """The event store: append through write sessions, read the log, import sealed events, verify the chain."""

    def writer(self) -> Writer:
        """A writer for a sequence of write sessions."""

    def read_stream(self, stream_id: str, *, after_version: int = 0,
                    to_position: int | None = None) -> list[StoredEvent]:
        """Events of one stream in version order, optionally only up to a log position."""

    def read_all(self, *, from_position: int = 1, to_position: int | None = None, limit: int | None = None,
                 stream_prefix: str | None = None, stream_ids: Sequence[str] | None = None,
                 batch_size: int = 5_000) -> Iterator[StoredEvent]:
        """The log in position order, read in batches of ``batch_size`` (memory stays flat)."""

    def head(self) -> int:
        """The position of the last event (0 for an empty log)."""

    def log_head(self) -> LogHead:
        """The last event's position, hash and time (``EMPTY_LOG`` for an empty log)."""

    def stream_versions(self, stream_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each stream (0 for a stream with no events)."""

    def position_at(self, moment: datetime) -> int:
        """The last log position recorded at or before ``moment`` (0 if none)."""

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Walk the whole chain and report the first position whose link is broken."""

    def read_signed(self, *, from_position: int = 1, batch_size: int = 5_000) -> Iterator[SignedHash]:
        """Every event's position and hash with the signature stored for it (None: unsigned), in position order."""

    def import_rows(self, batches: Iterable[Sequence[EventRow]], progress: Progress | None = None) -> int:
        """Write already-sealed, verified rows into an empty log, all or nothing; return how many.

        ConflictError when the log is not empty. Whatever ``batches`` raises while it is consumed
        (a broken chain, say) rolls the whole import back. A batch that is a :class:`SignedRows` also
        has its signatures stored (``event_signatures``), in the same transaction.
        """


def append_checked(session: WriteSession, requests: Sequence[AppendRequest],
                   meta: dict[str, Any] | None = None) -> list[StoredEvent]:
    """Append in ``session`` after checking every expected version (None: whatever the version)."""
    streams = distinct_streams(requests)
    versions = session.stream_versions(streams)
    for request in requests:
        actual = versions[request.stream_id]
        if request.expected_version is not None and request.expected_version != actual:
            raise ConcurrencyError(request.stream_id, request.expected_version, actual)
    pinned = [AppendRequest(r.stream_id, versions[r.stream_id], r.events) for r in requests]
    return session.append(pinned, meta or {}, session.log_head())


def read_in_batches(read_batch: Callable[[int, int | None, int], list[StoredEvent]], *, from_position: int,
                    to_position: int | None, limit: int | None, batch_size: int) -> Iterator[StoredEvent]:
    """``read_all``'s loop: ``read_batch(start, end, size)`` until the log, the range or ``limit`` runs out."""
    remaining, cursor = limit, from_position
    while remaining is None or remaining > 0:
        size = batch_size if remaining is None else min(batch_size, remaining)
        batch = read_batch(cursor, to_position, size)
        yield from batch
        if len(batch) < size:
            return
        cursor = batch[-1].position + 1
        if remaining is not None:
            remaining -= len(batch)


def distinct_streams(requests: Sequence[AppendRequest]) -> set[str]:
    """The streams the requests name; InvalidInputError when one is named twice."""
    streams = {r.stream_id for r in requests}
    if len(streams) != len(requests):
        raise InvalidInputError("one append names the same stream twice")
    return streams


def expected_versions(requests: Sequence[AppendRequest]) -> dict[str, int]:
    """Each request's expected version (required on the write path: it was read in the session)."""
    distinct_streams(requests)
    versions: dict[str, int] = {}
    for request in requests:
        if request.expected_version is None:
            raise InvalidInputError(f"an append in a write session needs the expected version of "
                                    f"{request.stream_id!r}")
        versions[request.stream_id] = request.expected_version
    return versions


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text that sorts like the instant it names."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """Parse a stored timestamp back into an aware datetime."""
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def next_recorded_at(now: str, head: LogHead) -> str:
    """The time of events appended after ``head`` when the clock of record says ``now``: never before the head.

    The head may be ahead of ``now`` by at most ``MAX_CLOCK_LEAD`` (a clock stepped back a little: the
    events keep the head's time); further ahead, every later event would be dated in the future, so the
    append is refused (IntegrityError) instead.
    """
    if head.recorded_at is None or head.recorded_at <= now:
        return now
    if head.recorded_at > format_time(parse_time(now) + MAX_CLOCK_LEAD):
        raise IntegrityError(
            f"refusing to append: the log's last event (position {head.position}) is dated {head.recorded_at}, more "
            f"than {int(MAX_CLOCK_LEAD.total_seconds())} s after the clock of record ({now}); check the clock of the "
            "database server (PostgreSQL) or of this machine (SQLite)")
    return head.recorded_at


class ImportClock:
    """An import's time check: every event dated no earlier than the one before it, none ahead of the clock.

    ``now`` is the clock of record when the import starts; ``MAX_CLOCK_LEAD`` is the skew allowed.
    """

    def __init__(self, now: str) -> None:
        self.now, self.limit, self.last = now, format_time(parse_time(now) + MAX_CLOCK_LEAD), ""

    def check(self, rows: Sequence[EventRow]) -> None:
        """InvalidInputError naming the first row dated in the future or before the row preceding it."""
        for row in rows:
            if row.recorded_at > self.limit:
                raise InvalidInputError(
                    f"event at position {row.position} is dated {row.recorded_at}, in the future (the clock of record "
                    f"says {self.now}; at most {int(MAX_CLOCK_LEAD.total_seconds())} s ahead is accepted): "
                    "nothing was imported")
            if row.recorded_at < self.last:
                raise InvalidInputError(
                    f"event at position {row.position} is dated {row.recorded_at}, before the event preceding it "
                    f"({self.last}): nothing was imported")
            self.last = row.recorded_at
