"""Sealing events onto the hash chain, and checking a stored row's link: shared by every recorder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from modelog.registry._sql.json_decode import decode_json
from modelog.registry.hashing import GENESIS_HASH, canonical_json, chain_hash
from modelog.registry.recorder import (
    AppendRequest,
    EventRow,
    LogHead,
    Progress,
    StoredEvent,
    VerifyReport,
    next_recorded_at,
)


def seal(requests: Sequence[AppendRequest], versions: dict[str, int], meta: dict[str, Any], head: LogHead,
         now: str) -> tuple[list[StoredEvent], list[EventRow]]:
    """Seal the requests' events after ``head``: the stored events and their rows (each JSON text built once).

    Stream ``s`` continues after ``versions[s]``; every event gets the same time, never earlier
    than the log's end (``next_recorded_at``).
    """
    position, prev_hash = head.position, head.hash
    recorded_at = next_recorded_at(now, head)
    meta_text = canonical_json(meta)
    stored: list[StoredEvent] = []
    rows: list[EventRow] = []
    for request in requests:
        stream_id, version = request.stream_id, versions[request.stream_id]
        for new in request.events:
            position, version = position + 1, version + 1
            data_text = canonical_json(new.data)
            digest = chain_hash(prev_hash, position, stream_id, version, new.event_type, new.schema_version,
                                data_text, meta_text, recorded_at)
            stored.append(StoredEvent(position, stream_id, version, new.event_type, new.schema_version,
                                      decode_json(data_text), meta, recorded_at, prev_hash, digest))
            rows.append(EventRow(position=position, stream_id=stream_id, stream_version=version,
                                 event_type=new.event_type, schema_version=new.schema_version, data=data_text,
                                 meta=meta_text, recorded_at=recorded_at, prev_hash=prev_hash, hash=digest))
            prev_hash = digest
    return stored, rows


def event_to_row(event: StoredEvent) -> EventRow:
    """The stored row of an event (its data and meta as canonical JSON text)."""
    return EventRow(event.position, event.stream_id, event.stream_version, event.event_type, event.schema_version,
                    canonical_json(event.data), canonical_json(event.meta), event.recorded_at, event.prev_hash,
                    event.hash)


def row_to_event(row: Sequence[Any]) -> StoredEvent:
    """The event of a stored row (``events`` column order), its JSON decoded."""
    position, stream_id, stream_version, event_type, schema_version, data, meta, recorded_at, prev_hash, digest = row
    return StoredEvent(position, stream_id, stream_version, event_type, schema_version, decode_json(data),
                       decode_json(meta), recorded_at, prev_hash, digest)


class ChainLink(Protocol):
    """What checking a link reads of a stored row (an :class:`EventRow` or a database row)."""

    @property
    def position(self) -> int: ...  # noqa: D102 - the row's own fields
    @property
    def stream_id(self) -> str: ...  # noqa: D102
    @property
    def stream_version(self) -> int: ...  # noqa: D102
    @property
    def event_type(self) -> str: ...  # noqa: D102
    @property
    def schema_version(self) -> int: ...  # noqa: D102
    @property
    def data(self) -> str: ...  # noqa: D102
    @property
    def meta(self) -> str: ...  # noqa: D102
    @property
    def recorded_at(self) -> str: ...  # noqa: D102
    @property
    def prev_hash(self) -> str: ...  # noqa: D102
    @property
    def hash(self) -> str: ...  # noqa: D102


def check_link(row: ChainLink, expected_position: int, prev_hash: str) -> str | None:
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


def walk_chain(rows: Iterable[ChainLink], progress: Progress | None = None) -> VerifyReport:
    """Check every stored row's link in position order; report the first broken one."""
    prev_hash, expected_position, checked = GENESIS_HASH, 1, 0
    for row in rows:
        problem = check_link(row, expected_position, prev_hash)
        if problem:
            return VerifyReport(checked, min(expected_position, row.position), problem)
        prev_hash, expected_position, checked = row.hash, expected_position + 1, checked + 1
        if progress and checked % 10_000 == 0:
            progress(checked)
    return VerifyReport(checked)
