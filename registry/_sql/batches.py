"""Raw batched reads of the log for bulk replays (rebuild, verify, as-of lists over every stream of a kind).

A replay touches every event once, so the per-event cost of a
:class:`~modelog.registry.recorder.StoredEvent` (two JSON decodes and a frozen dataclass) dominated
it. These reads select only the columns the projector uses, with a statement compiled once per
dialect, and decode ``meta`` only for the events whose handler asks for it (most events never do).
The order and filters are the store's: position order, ``stream_id`` prefix via an escaped ``LIKE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from modelog.registry._sql.driver import DriverStatement
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry._sql.rows import RAW_COLUMNS
from modelog.registry.schema import events
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Row

_c = events.c
_READ_STREAM_ROWS_UNTIL = DriverStatement(
    select(*RAW_COLUMNS).where(_c.stream_id == bindparam("stream_id"), _c.position <= bindparam("until"))
    .order_by(_c.stream_version))

_READ_TYPE_ROWS_UNTIL = DriverStatement(
    select(*RAW_COLUMNS).where(_c.event_type == bindparam("event_type"), _c.position <= bindparam("until"))
    .order_by(_c.position))


@lru_cache(maxsize=8)
def _range_statement(prefix: str | None) -> DriverStatement:
    """Up to ``size`` events with ``start <= position <= end`` (of streams starting with ``prefix``)."""
    query = select(*RAW_COLUMNS).where(_c.position >= bindparam("start"), _c.position <= bindparam("end"))
    if prefix is not None:
        query = query.where(_c.stream_id.startswith(prefix, autoescape=True))
    return DriverStatement(query.order_by(_c.position).limit(bindparam("size")))


#: The events with ``start <= position <= end``: the log's positions have no gaps, so a window of ``size``
#: positions is a batch of ``size`` events. PostgreSQL without statistics on ``events`` (just after an
#: import) planned the ``LIMIT`` form as a sort of every event after ``start``, on disk, for every batch.
_WINDOW = DriverStatement(select(*RAW_COLUMNS).where(_c.position >= bindparam("start"), _c.position <= bindparam("end"))
                          .order_by(_c.position))


def read_batches(conn: Connection, *, after: int = 0, until: int, prefix: str | None = None,
                 batch_size: int = 5_000) -> Iterator[list[RowEvent]]:
    """The events after ``after`` up to ``until`` in position order, ``batch_size`` at a time (memory stays flat)."""
    if prefix is None:
        yield from _windows(conn, after + 1, until, batch_size)
        return
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


def _windows(conn: Connection, start: int, until: int, size: int) -> Iterator[list[RowEvent]]:
    for _first, _last, batch in position_windows(conn, _WINDOW, start, until, size):
        if batch:
            yield batch


def position_windows(conn: Connection, statement: DriverStatement, start: int, until: int,
                     size: int) -> Iterator[tuple[int, int, list[RowEvent]]]:
    """Each window of ``size`` positions from ``start`` to ``until``: its first and last position, and the events
    ``statement`` (``RAW_COLUMNS`` with ``:start <= position <= :end``) reads in it (memory stays flat)."""
    while start <= until:
        end = min(until, start + size - 1)
        result = statement.execute(conn, {"start": start, "end": end})
        rows = result.cursor.fetchall()
        result.close()
        yield start, end, [RowEvent(row) for row in rows]
        start = end + 1


def read_stream_rows(conn: Connection, stream_id: str, until: int) -> list[Row[Any]]:
    """One stream's raw rows (``RAW_COLUMNS``) up to position ``until``, in version order, undecoded."""
    return list(_READ_STREAM_ROWS_UNTIL.execute(conn, {"stream_id": stream_id, "until": until}).fetchall())


def read_type_rows(conn: Connection, event_type: str, until: int) -> list[Row[Any]]:
    """The raw rows of every event of one type up to position ``until``, in position order.

    No index serves it (it scans the log): for replays that need the few events of a rare type.
    """
    return list(_READ_TYPE_ROWS_UNTIL.execute(conn, {"event_type": event_type, "until": until}).fetchall())
