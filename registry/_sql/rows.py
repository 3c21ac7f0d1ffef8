"""The ``events`` table's rows as the SQL recorder writes and bulk passes read them.

:class:`~modelog.registry.recorder.EventRow` is built by field name everywhere and handed to the
driver as a plain tuple here; the assertion below keeps its field order and the table's column
order the same, so a column added to one and not the other fails at import, not as shifted data.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelog.registry._sql.driver import PositionalInsert
from modelog.registry.recorder import EventRow
from modelog.registry.schema import events
from sqlalchemy.engine import Connection

EVENT_COLUMNS: tuple[str, ...] = tuple(events.columns.keys())
if EventRow._fields != EVENT_COLUMNS:  # not an assert: it must hold under ``python -O`` too
    raise ImportError(f"EventRow fields {EventRow._fields} differ from the events table's columns {EVENT_COLUMNS}")

_c = events.c
#: The columns a projector uses, in the order raw reads return them (see ``raw_events.RowEvent``).
RAW_COLUMNS = (_c.position, _c.stream_id, _c.event_type, _c.schema_version, _c.data, _c.meta, _c.recorded_at)

_INSERT_ROWS = PositionalInsert(events)


def insert_rows(conn: Connection, rows: Sequence[EventRow]) -> None:
    """Insert sealed rows verbatim, in one driver ``executemany``."""
    _INSERT_ROWS.executemany(conn, rows)
