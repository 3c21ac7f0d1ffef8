"""Export the whole log as JSON Lines, and import such a file into an empty registry.

The file ends with an end record naming the event count and the last hash, so a file
cut short at a line boundary (still a valid chain prefix) is refused too. An import
verifies the hash chain line by line while it streams, and is all or nothing: one
transaction, so a truncated or edited file leaves the registry empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from sqlalchemy.engine import Connection

from registry.bulk import cyclic_gc_paused
from registry.catalog import upcast
from registry.database import transaction
from registry.errors import ConflictError, IntegrityError, InvalidInputError
from registry.hashing import GENESIS_HASH, canonical_json
from registry.json_decode import decode_json
from registry.store import EventStore, StoredEvent, check_link, event_row, lock_appends

FIELDS = ("position", "stream_id", "stream_version", "event_type", "schema_version", "data", "meta",
          "recorded_at", "prev_hash", "hash")
FIELD_SET = frozenset(FIELDS)
END_KEY = "modelog_export_end"
Progress = Callable[[int], None]


def event_to_json(event: StoredEvent) -> str:
    """One JSON Lines record of a stored event."""
    return canonical_json({name: getattr(event, name) for name in FIELDS})


def export_log(store: EventStore, out: IO[str], progress: Progress | None = None) -> int:
    """Write every event, in position order, one JSON object per line, then the end record; return the count."""
    count, last_hash = 0, GENESIS_HASH
    for event in store.read_all(to_position=store.head()):
        out.write(event_to_json(event) + "\n")
        count, last_hash = count + 1, event.hash
        if progress and count % 10_000 == 0:
            progress(count)
    out.write(canonical_json({END_KEY: {"events": count, "last_hash": last_hash}}) + "\n")
    return count


def _parse_json(line: str, number: int) -> Any:
    try:
        return decode_json(line)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"line {number} is not valid JSON ({error.msg}); is the file truncated?") from None


def _parse_line(record: Any, number: int) -> StoredEvent:
    if not isinstance(record, dict) or record.keys() != FIELD_SET:
        raise InvalidInputError(f"line {number} is not an exported event (expected fields {', '.join(FIELDS)})")
    if not isinstance(record["data"], dict) or not isinstance(record["meta"], dict):
        raise InvalidInputError(f"line {number}: data and meta must be JSON objects")
    return StoredEvent(**record)


class _Row:
    """A parsed event's stored row (its JSON texts built once), in the shape the chain check reads."""

    def __init__(self, event: StoredEvent) -> None:
        self.event = event
        self.values = event_row(event, canonical_json(event.data), canonical_json(event.meta))
        self.__dict__.update(self.values)


def _verified(lines: IO[str]) -> Iterator[_Row]:
    prev_hash, expected, end = GENESIS_HASH, 1, None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _parse_json(line, number)
        if end is not None:
            raise IntegrityError(f"line {number} follows the end record; nothing was imported")
        if isinstance(record, dict) and len(record) == 1 and END_KEY in record:
            end = record[END_KEY]
            continue
        event = _parse_line(record, number)
        row = _Row(event)
        problem = check_link(row, expected, prev_hash)
        if problem:
            raise IntegrityError(f"line {number} (position {event.position}): {problem}; nothing was imported")
        upcast(event.event_type, event.schema_version, event.data)  # unknown or newer events fail loudly
        prev_hash, expected = event.hash, expected + 1
        yield row
    _check_end(end, expected - 1, prev_hash)


def _check_end(end: Any, count: int, last_hash: str) -> None:
    if end is None:
        raise IntegrityError(
            "the file has no end record: it is truncated or not a modelog export; nothing was imported"
        )
    if not isinstance(end, dict) or end.get("events") != count or end.get("last_hash") != last_hash:
        raise IntegrityError(
            f"the end record announces {end.get('events') if isinstance(end, dict) else '?'} events but the file "
            f"holds {count} (or its last hash differs): it is truncated or edited; nothing was imported"
        )


def import_log(store: EventStore, source: IO[str], progress: Progress | None = None,
               batch_size: int = 2_000) -> int:
    """Import an exported log into an empty registry; verifies the chain; all or nothing."""
    with transaction(store.engine, write=True) as conn, cyclic_gc_paused():
        lock_appends(conn)  # no append (or second import) may slip in between the emptiness check and the insert
        if store.head(conn) != 0:
            raise ConflictError("the registry is not empty; import only into a new registry")
        count, batch = 0, []
        for row in _verified(source):
            batch.append(row)
            if len(batch) >= batch_size:
                count += _import_batch(store, conn, batch)
                batch = []
                if progress:
                    progress(count)
        if batch:
            count += _import_batch(store, conn, batch)
        return count


def _import_batch(store: EventStore, conn: Connection, batch: list[_Row]) -> int:
    store.import_events(conn, [row.event for row in batch], [row.values for row in batch])
    return len(batch)
