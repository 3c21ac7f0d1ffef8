"""A whole-log replay builds the artifact links' twin rows inside the database, from the events' JSON.

Most events of a large registry are artifact links, and each link's twin row has fourteen values. Built
in Python, a link cost a read of its whole JSON text, a decode, a row and fourteen bound values: about
half of a rebuild. Here the links never reach Python:

* the replay reads every event of a window of positions but the links (:func:`windows`);
* the database builds their twin rows itself (SQLite's ``json_extract`` parses each text once per row and
  picks the fields; PostgreSQL's ``json_to_record`` makes one record of it) with one ``INSERT ... SELECT`` per
  range of positions (:class:`LinksInDatabase`): the projector
  inserts the links up to each one-event handler's event before running it (an unlink, a version's or a
  model's deletion closes the open rows it finds), and the rest of the window after the window's events;
* their stamps are copied from their twin rows after the replay, as in any bulk replay (``bulk_replay``),
  and a link's touch of its version's and model's ``updated_at`` is taken from the stamps then
  (:func:`touch_from_stamps`): each view row's ``updated_at`` is its latest stamp's time, which is what a
  read as of the log's end shows (``temporal_reads``) and what the projector's touches leave.

Only links at their type's current schema version qualify (:func:`_built_in_database`): an older one is read
and upcast in Python as before. The row is the one ``projector._queue_link`` builds: the model id from the
stream id, each field from the JSON (a missing optional ``run_id`` is NULL), the event's time and position,
open. ``tests/integration/test_bulk_rebuild.py`` compares a rebuild through this path with the live rows and
with a replay in Python. It applies only where the log and the read models share one connection (a rebuild,
a catch-up): ``verify`` replays into a scratch database, building every row in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelog.projections import tables as t
from modelog.projections.temporal import OPEN, TWINS, stamps
from modelog.registry._sql.batches import position_windows
from modelog.registry._sql.driver import DriverStatement
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry._sql.rows import RAW_COLUMNS
from modelog.registry.catalog import CURRENT_SCHEMA
from modelog.registry.schema import PositionType, events
from modelog.registry.vocabulary import MODEL_PREFIX, EventType
from sqlalchemy import and_, bindparam, cast, column, func, literal, not_, select, true, update
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import TableValuedAlias

_LINKED = EventType.ARTIFACT_LINKED.value
_c = events.c


def _built_in_database() -> Any:
    return and_(_c.event_type == _LINKED, _c.schema_version == CURRENT_SCHEMA[_LINKED])


def _field(name: str) -> Any:
    return func.json_extract(_c.data, "$." + name)


_TWIN = TWINS[t.artifact_links.name]
#: The link's fields in its JSON, and their twin columns' types (PostgreSQL's record of them).
_FIELDS = {name: _TWIN.c[name].type for name in (
    "number", "pipeline", "step", "name", "kind", "link_version", "artifact_id", "artifact_name", "artifact_version",
    "content_hash", "run_id")}


def _insert_statement(fields: Any) -> DriverStatement:
    """The twin rows of the links in ``low <= position <= high``, each field taken by ``fields[name]``."""
    values = {"model_id": func.substr(_c.stream_id, len(MODEL_PREFIX) + 1), **{name: fields[name] for name in _FIELDS},
              "created_at": _c.recorded_at, "position": _c.position, "valid_from": _c.position,
              "valid_to": literal(OPEN, PositionType)}
    if set(values) != set(_TWIN.columns.keys()):  # a column added to the links' twin needs its value here
        raise ImportError(f"links built in the database miss columns of {_TWIN.name}")
    rows = select(*values.values()).where(_built_in_database(), _c.position >= bindparam("low"),
                                          _c.position <= bindparam("high"))
    if isinstance(fields, TableValuedAlias):
        rows = rows.select_from(events).join(fields, true())
    return DriverStatement(_TWIN.insert().from_select(list(values), rows))


def _postgres_fields() -> Any:
    # One parse of the text per row: every field from one record (``->>`` on ``data::json`` would parse it once
    # per field, and a cast to jsonb builds a binary copy first, a fifth slower).
    columns = [column(name, type_) for name, type_ in _FIELDS.items()]
    return func.json_to_record(cast(_c.data, JSON)).table_valued(*columns).render_derived("link", with_types=True)


#: The events with ``start <= position <= end`` but the links built in the database, in position order.
_WINDOW = DriverStatement(select(*RAW_COLUMNS).where(
    _c.position >= bindparam("start"), _c.position <= bindparam("end"), not_(_built_in_database()))
    .order_by(_c.position))
#: Inserts the twin rows of the links built in the database with ``low <= position <= high``, by dialect.
_INSERT_LINKS = {"sqlite": _insert_statement({name: _field(name) for name in _FIELDS}),
                 "postgresql": _insert_statement(_postgres_fields().c)}


def _latest_stamp(*keys: Any) -> Any:
    s = stamps
    matching = [s.c.model_id == keys[0]] + ([s.c.number == keys[1]] if len(keys) > 1 else [])
    return select(s.c.updated_at).where(*matching).order_by(s.c.position.desc()).limit(1).scalar_subquery()


_TOUCH_FROM_STAMPS = (
    DriverStatement(update(t.versions).values(updated_at=_latest_stamp(t.versions.c.model_id, t.versions.c.number))),
    DriverStatement(update(t.models).values(updated_at=_latest_stamp(t.models.c.model_id))),
)


def applies(conn: Connection, source: Connection) -> bool:
    """Whether a replay on ``conn`` reading from ``source`` builds its links in the database (the same one)."""
    return source is conn and conn.dialect.name in _INSERT_LINKS


@dataclass
class LinksInDatabase:
    """The links of one window of positions, inserted range by range: ``low`` is the first not inserted yet."""

    conn: Connection
    low: int
    end: int

    def insert_through(self, high: int) -> None:
        """Insert the twin rows of the window's links up to position ``high``."""
        if high >= self.low:
            _INSERT_LINKS[self.conn.dialect.name].execute(self.conn, {"low": self.low, "high": high})
            self.low = high + 1


def windows(conn: Connection, start: int, until: int, size: int) -> Iterator[tuple[LinksInDatabase, list[RowEvent]]]:
    """Each window of ``size`` positions from ``start`` to ``until``: its links, and its other events (memory flat)."""
    for first, last, batch in position_windows(conn, _WINDOW, start, until, size):
        yield LinksInDatabase(conn, first, last), batch


def touch_from_stamps(conn: Connection) -> None:
    """After the replay (stamps copied, their indexes built): each version's and model's ``updated_at``."""
    for statement in _TOUCH_FROM_STAMPS:
        statement.execute(conn)
