"""Raw reads of the log for bulk replays (rebuild, verify, as-of lists over every stream of a kind).

A replay touches every event once, so the per-event cost of :class:`registry.store.StoredEvent`
(two JSON decodes and a frozen dataclass) dominated it. These reads select only the columns the
projector uses, with a statement compiled once per dialect, and decode ``meta`` only for the
events whose handler asks for it (most events never do). The order and filters are the
store's: position order, ``stream_id`` prefix via an escaped ``LIKE``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from modelog.registry.driver_sql import DriverStatement
from modelog.registry.raw_events import RowEvent
from modelog.registry.schema import events
from modelog.registry.store import RAW_COLUMNS, EventStore
from modelog.registry.vocabulary import EventType
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

__all__ = ["RowEvent", "linked_run_ids", "read_batches", "stream_events"]

_c = events.c
_RUN_LINKED = EventType.PIPELINE_RUN_LINKED.value


@lru_cache(maxsize=8)
def _range_statement(prefix: str | None) -> DriverStatement:
    """Up to ``size`` events with ``start <= position <= end`` (of streams starting with ``prefix``)."""
    query = select(*RAW_COLUMNS).where(_c.position >= bindparam("start"), _c.position <= bindparam("end"))
    if prefix is not None:
        query = query.where(_c.stream_id.startswith(prefix, autoescape=True))
    return DriverStatement(query.order_by(_c.position).limit(bindparam("size")))


def read_batches(conn: Connection, *, after: int = 0, until: int, prefix: str | None = None,
                 batch_size: int = 5_000) -> Iterator[list[RowEvent]]:
    """The events after ``after`` up to ``until`` in position order, ``batch_size`` at a time (memory stays flat)."""
    statement, start = _range_statement(prefix), after + 1
    while start <= until:
        # The driver's own rows (plain tuples): SQLAlchemy's row objects would add a step per event.
        result = statement.execute(conn, {"start": start, "end": until, "size": batch_size})
        rows = result.cursor.fetchall()
        result.close()
        if rows:
            yield [RowEvent(row) for row in rows]
        if len(rows) < batch_size:
            return
        start = rows[-1][0] + 1


def stream_events(store: EventStore, stream_id: str, until: int, conn: Connection) -> list[RowEvent]:
    """One stream up to position ``until`` in version order, read raw through the store's stream read."""
    return [RowEvent(row) for row in store.read_stream_rows(stream_id, until, conn)]


def linked_run_ids(stream: Sequence[Any]) -> list[str]:
    """The ids of the runs linked in a model's stream (events with decoded ``data``), sorted."""
    return sorted({e.data["run_id"] for e in stream if e.event_type == _RUN_LINKED})
