"""Export the whole log as JSON Lines, and import such a file into an empty registry.

An import verifies the hash chain line by line while it streams, and is all or
nothing: one transaction, so a truncated or edited file leaves the registry empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from registry.database import transaction
from registry.errors import ConflictError, IntegrityError, InvalidInputError
from registry.hashing import GENESIS_HASH, canonical_json
from registry.store import EventStore, StoredEvent, check_link

FIELDS = ("position", "stream_id", "stream_version", "event_type", "schema_version", "data", "meta",
          "recorded_at", "prev_hash", "hash")
Progress = Callable[[int], None]


def event_to_json(event: StoredEvent) -> str:
    """One JSON Lines record of a stored event."""
    return canonical_json({name: getattr(event, name) for name in FIELDS})


def export_log(store: EventStore, out: IO[str], progress: Progress | None = None) -> int:
    """Write every event, in position order, one JSON object per line; return the count."""
    count = 0
    for event in store.read_all():
        out.write(event_to_json(event) + "\n")
        count += 1
        if progress and count % 10_000 == 0:
            progress(count)
    return count


def _parse_line(line: str, number: int) -> StoredEvent:
    try:
        record: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"line {number} is not valid JSON ({error.msg})") from None
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise InvalidInputError(f"line {number} is not an exported event (expected fields {', '.join(FIELDS)})")
    if not isinstance(record["data"], dict) or not isinstance(record["meta"], dict):
        raise InvalidInputError(f"line {number}: data and meta must be JSON objects")
    return StoredEvent(**record)


class _Row:
    """Adapter giving a parsed event the stored-row shape the chain check reads."""

    def __init__(self, event: StoredEvent) -> None:
        self.__dict__.update({name: getattr(event, name) for name in FIELDS})
        self.data = canonical_json(event.data)
        self.meta = canonical_json(event.meta)


def _verified(lines: IO[str]) -> Iterator[StoredEvent]:
    prev_hash, expected = GENESIS_HASH, 1
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _parse_line(line, number)
        problem = check_link(_Row(event), expected, prev_hash)
        if problem:
            raise IntegrityError(f"line {number} (position {event.position}): {problem}; nothing was imported")
        prev_hash, expected = event.hash, expected + 1
        yield event


def import_log(store: EventStore, source: IO[str], progress: Progress | None = None,
               batch_size: int = 2_000) -> int:
    """Import an exported log into an empty registry; verifies the chain; all or nothing."""
    with transaction(store.engine, write=True) as conn:
        if store.head(conn) != 0:
            raise ConflictError("the registry is not empty; import only into a new registry")
        count, batch = 0, []
        for event in _verified(source):
            batch.append(event)
            if len(batch) >= batch_size:
                store.import_events(conn, batch)
                count += len(batch)
                batch = []
                if progress:
                    progress(count)
        if batch:
            store.import_events(conn, batch)
            count += len(batch)
        return count
