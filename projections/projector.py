"""The projector: turns log events into read-model rows, inline with the append or during a rebuild.

Events that only insert rows and touch ``updated_at`` (most of them) are queued and written one
``executemany`` per statement (:class:`_Writes`); the others run one at a time
(``projections.handlers``). Handlers read the events' JSON data (upcast to the current schema), so
this module needs neither pydantic nor the event classes. The checkpoint is written in the same
transaction as the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from modelog.projections import tables as t
from modelog.projections.bulk_replay import STAMPED_LATER
from modelog.projections.handlers import HANDLERS, PRESENT_DELETIONS, ProjectedEvent, event_model_id, tags_json
from modelog.projections.links_in_database import LinksInDatabase
from modelog.projections.table_rows import TableRows
from modelog.projections.temporal import DERIVED_NAMES, HistoryWrites
from modelog.registry._sql.driver import DriverStatement, PositionalInsert
from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.errors import IntegrityError
from modelog.registry.hashing import canonical_json
from modelog.registry.store import StoredEvent
from modelog.registry.validation import name_key
from modelog.registry.values import RunStatus, Stage
from modelog.registry.vocabulary import EventType
from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection

#: Builds the row an event inserts, by column name (see :mod:`projections.table_rows`).
RowBuilder = Callable[[ProjectedEvent, dict[str, Any]], list[Any]]

#: How the rows of each table the projector inserts are built, by table name.
ROWS = {table.name: TableRows(table)
        for table in (t.models, t.versions, t.artifact_links, t.run_links, t.runs, t.artifacts, t.version_metadata)}
_MODEL_ROW, _VERSION_ROW, _LINK_ROW = ROWS[t.models.name].make, ROWS[t.versions.name].make, \
    ROWS[t.artifact_links.name].make
_RUN_LINK_ROW, _RUN_ROW, _ARTIFACT_ROW = ROWS[t.run_links.name].make, ROWS[t.runs.name].make, \
    ROWS[t.artifacts.name].make
_METADATA_ROW = ROWS[t.version_metadata.name].make
_RUNNING, _NO_STAGE = RunStatus.RUNNING.value, Stage.NONE.value  # plain text: rows go to the driver as they are


# --- rows the batched events insert -------------------------------------------------------


def _model_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    get, at = data.get, event.recorded_at
    return _MODEL_ROW(
        model_id=data["model_id"], name=data["name"], name_key=name_key(data["name"]), license=get("license"),
        description=get("description"), audience=get("audience"), use_cases=get("use_cases"),
        limitations=get("limitations"), trade_offs=get("trade_offs"), ethics=get("ethics"),
        tags=tags_json(get("tags", ())), implicit=bool(get("implicit")), created_at=at, updated_at=at,
        created_by=event.meta.get("actor"), version_count=0, latest_version=None)

def _version_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    meta, at = event.meta, event.recorded_at
    return _VERSION_ROW(
        model_id=event_model_id(event), number=data["number"], name=data["name"], name_key=name_key(data["name"]),
        description=data.get("description"), tags=tags_json(data.get("tags", ())), stage=_NO_STAGE,
        created_at=at, updated_at=at, created_by=meta.get("actor"), created_run_id=meta.get("run_id"))

def _run_link_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    return _RUN_LINK_ROW(model_id=event_model_id(event), number=data["number"], run_id=data["run_id"],
                         pipeline=data["pipeline"], created_at=event.recorded_at, position=event.position)

def _run_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    get = data.get
    return _RUN_ROW(
        run_id=data["run_id"], pipeline=data["pipeline"], status=_RUNNING, model_id=get("model_id"),
        model_name=get("model_name"), version_number=get("version_number"),
        created_version=bool(get("created_version")), started_at=event.recorded_at, finished_at=None,
        steps_completed=0, failed_step=None, error_type=None, error_message=None, started_by=event.meta.get("actor"))

def _artifact_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    return _ARTIFACT_ROW(
        artifact_id=data["artifact_id"], name=data["name"], name_key=name_key(data["name"]), version=data["version"],
        uri=data["uri"], content_hash=data["content_hash"], data_type=data["data_type"],
        materializer=data["materializer"], run_id=data.get("run_id"), step=data.get("step"),
        created_at=event.recorded_at)

# --- batched application --------------------------------------------------------------

_INSERTS = {name: PositionalInsert(rows.table) for name, rows in ROWS.items()}
_MODEL_UPDATED_AT = ROWS[t.models.name].index["updated_at"]
_MODEL_VERSION_COUNT = ROWS[t.models.name].index["version_count"]
_MODEL_LATEST_VERSION = ROWS[t.models.name].index["latest_version"]
_VERSION_UPDATED_AT = ROWS[t.versions.name].index["updated_at"]
_VERSION_KEY = ROWS[t.versions.name].reader("model_id", "number")
_MODEL_KEY = ROWS[t.models.name].index["model_id"]
_TOUCH_VERSION = DriverStatement(
    update(t.versions)
    .where(t.versions.c.model_id == bindparam("key_model"), t.versions.c.number == bindparam("key_number"))
    .values(updated_at=bindparam("key_at")))
_TOUCH_MODEL = DriverStatement(
    update(t.models).where(t.models.c.model_id == bindparam("key_model")).values(updated_at=bindparam("key_at")))
_ADD_VERSIONS = DriverStatement(
    update(t.models).where(t.models.c.model_id == bindparam("key_model")).values(
        updated_at=bindparam("key_at"), version_count=t.models.c.version_count + bindparam("key_added"),
        latest_version=bindparam("key_latest")))
_SAVE_CHECKPOINT = DriverStatement(
    update(t.checkpoints).where(t.checkpoints.c.name == t.CHECKPOINT_NAME,
                                t.checkpoints.c.position == bindparam("previous"))
    .values(position=bindparam("position")))


class _Writes:
    """Row inserts and ``updated_at`` touches of a run of events, flushed as one executemany per statement.

    Only these two kinds of write are deferred, and every other handler flushes first, so each
    statement still sees the rows of the events before it. Inserts land before touches, and a
    touch only sets ``updated_at``, so keeping the last touch per row leaves exactly what a
    one-statement-per-event replay leaves. A touch of a row queued in the same run is folded
    into that row before it is inserted, for the same reason. ``only`` keeps the rows of just
    those tables (see :func:`apply_events`).
    """

    def __init__(self, conn: Connection, only: frozenset[str] | None = None, history: bool = True,
                 bulk: bool = False) -> None:
        self.conn, self.only = conn, only
        # The history twins (projections.temporal), written with the present rows unless a scratch replay skips them.
        self.history = HistoryWrites(conn, bulk) if history and only is None else None
        # The derived views are their twins' open rows: with twins, their rows go to the twins alone.
        self.twin_only = DERIVED_NAMES if self.history is not None else frozenset()
        # A whole-log replay copies these tables' stamps from their twin rows at its end (``bulk_replay``).
        self.stamped_later = STAMPED_LATER if bulk and self.history is not None else frozenset()
        self.insert_rows = PositionalInsert.load if bulk else PositionalInsert.executemany
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[str, list[list[Any]]] = {}
        self.versions: dict[tuple[str, int], str] = {}
        self.models: dict[str, str] = {}
        self.added: dict[str, list[int]] = {}  # model id -> [versions created, the last one's number]
        # Rows queued in this run, by key: a touch of one of them is folded into the row itself.
        self.new_versions: dict[tuple[str, int], list[Any]] = {}
        self.new_models: dict[str, list[Any]] = {}

    def keeps(self, table: str) -> bool:
        """Whether rows of ``table`` are kept (see ``only``): a row is built only if so."""
        return self.only is None or table in self.only

    def insert(self, table: str, row: list[Any]) -> None:
        """Queue a row for ``table``."""
        found = self.rows.get(table)
        if found is None:
            self.rows[table] = [row]
        else:
            found.append(row)

    def insert_built(self, table: str, build: RowBuilder, event: ProjectedEvent, data: dict[str, Any]) -> None:
        """Queue the row ``build`` makes of the event for ``table`` (not built unless ``table`` is kept)."""
        if self.keeps(table):
            row, history = build(event, data), self.history
            if table in self.twin_only and history is not None:
                history.only_twin(table, row, event.position)
                return
            self.insert(table, row)
            if history is not None:
                history.row(table, row, event.position)
            if table == _VERSIONS:
                self.new_versions[_VERSION_KEY(row)] = row
            elif table == _MODELS:
                self.new_models[row[_MODEL_KEY]] = row

    def touch(self, model_id: str, position: int, at: str, number: int | None = None, link: str = "") -> None:
        """Queue ``updated_at`` of a model (and of one of its versions), and its history stamp.

        ``link``: the derived link table whose twin row this event just queued; a bulk replay stamps
        from those rows at its end (``bulk_replay``: the stamp is the row's model, number, position, time).
        """
        if self.history is not None and link not in self.stamped_later:
            self.history.stamps.append((model_id, position, number, at))
        if number is not None:
            key = (model_id, number)
            row = self.new_versions.get(key)
            if row is not None:  # not inserted yet: set it in the row (the same as insert, then update)
                row[_VERSION_UPDATED_AT] = at
            else:
                self.versions[key] = at
        row = self.new_models.get(model_id)
        if row is not None:
            row[_MODEL_UPDATED_AT] = at
        else:
            self.models[model_id] = at

    def add_version(self, model_id: str, number: int, position: int, at: str) -> None:
        """Count a version created in a model, which is now its latest, and touch the model (and stamp it).

        Version numbers only grow within a model (they are never reused), so the version just
        created is the model's highest.
        """
        if self.history is not None:
            self.history.stamps.append((model_id, position, number, at))
        row = self.new_models.get(model_id)
        if row is not None:
            row[_MODEL_VERSION_COUNT] += 1
            row[_MODEL_LATEST_VERSION], row[_MODEL_UPDATED_AT] = number, at
            return
        found = self.added.get(model_id)
        if found is None:
            self.added[model_id] = [1, number]
        else:
            found[0], found[1] = found[0] + 1, number
        self.models[model_id] = at

    def flush(self) -> None:
        """Execute everything queued, inserts first."""
        for table, rows in self.rows.items():
            self.insert_rows(_INSERTS[table], self.conn, list(map(tuple, rows)))  # the rows, in column order
        _TOUCH_VERSION.executemany(self.conn, [{"key_model": m, "key_number": n, "key_at": at}
                                               for (m, n), at in self.versions.items()])
        models, added = self.models, self.added
        _ADD_VERSIONS.executemany(self.conn, [{"key_model": m, "key_added": count, "key_latest": latest,
                                               "key_at": models[m]} for m, (count, latest) in added.items()])
        _TOUCH_MODEL.executemany(self.conn, [{"key_model": m, "key_at": at} for m, at in models.items()
                                             if m not in added])
        if self.history is not None:
            self.history.flush()
        self._reset()


_MODELS, _VERSIONS, _LINKS, _METADATA = t.models.name, t.versions.name, t.artifact_links.name, t.version_metadata.name


def _queue_model(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.models.name, _model_row, event, data)
    if writes.history is not None:
        writes.history.registered(event_model_id(event), event.position, event.recorded_at)


def _queue_version(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.versions.name, _version_row, event, data)
    writes.add_version(event_model_id(event), data["number"], event.position, event.recorded_at)


def _queue_link(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # Most events of a large registry are links: this path builds the model id and the row once each.
    # The row is built here rather than by a row builder: one call fewer per link.
    model_id, number, position, history = event_model_id(event), data["number"], event.position, writes.history
    if writes.keeps(_LINKS):
        row = _LINK_ROW(
            model_id=model_id, number=number, pipeline=data["pipeline"], step=data["step"], name=data["name"],
            kind=data["kind"], link_version=data["link_version"], artifact_id=data["artifact_id"],
            artifact_name=data["artifact_name"], artifact_version=data["artifact_version"],
            content_hash=data["content_hash"], run_id=data.get("run_id"), created_at=event.recorded_at,
            position=position)
        if history is None:  # a scratch replay: the view is a table of its own
            writes.insert(_LINKS, row)
        else:  # the view is the twin's open rows
            history.only_twin(_LINKS, row, position)
    writes.touch(model_id, position, event.recorded_at, number, _LINKS)


def _queue_run_link(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.run_links.name, _run_link_row, event, data)
    writes.touch(event_model_id(event), event.position, event.recorded_at, data["number"], t.run_links.name)


def _queue_metadata(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # One row per key logged (see ``tables.version_metadata``, its own history: no twin); the version is touched.
    model_id, number, position, at = event_model_id(event), data["number"], event.position, event.recorded_at
    if writes.keeps(_METADATA):
        actor = event.meta.get("actor")
        for key, value in data["values"].items():
            writes.insert(_METADATA, _METADATA_ROW(model_id=model_id, number=number, key=key, position=position,
                                                   value=canonical_json(value), recorded_at=at, actor=actor))
    writes.touch(model_id, position, at, number)


def _queue_run(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.runs.name, _run_row, event, data)


def _queue_artifact(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.artifacts.name, _artifact_row, event, data)


def _queue_nothing(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    """Events with no read model of their own (name claims, grants, policies, stage change requests)."""


#: Handlers that only insert rows and touch ``updated_at``: their writes are batched.
BATCHED: dict[str, Callable[[_Writes, ProjectedEvent, dict[str, Any]], None]] = {
    EventType.MODEL_NAME_CLAIMED.value: _queue_nothing,
    EventType.MODEL_NAME_RELEASED.value: _queue_nothing,
    # Grants, policies and stage change requests have no view: they are read from their streams in the log.
    EventType.ROLE_GRANTED.value: _queue_nothing,
    EventType.ROLE_REVOKED.value: _queue_nothing,
    EventType.STAGE_POLICY_SET.value: _queue_nothing,
    EventType.STAGE_CHANGE_REQUESTED.value: _queue_nothing,
    EventType.STAGE_CHANGE_APPROVED.value: _queue_nothing,
    EventType.STAGE_CHANGE_REJECTED.value: _queue_nothing,
    EventType.MODEL_REGISTERED.value: _queue_model,
    EventType.MODEL_VERSION_CREATED.value: _queue_version,
    EventType.ARTIFACT_LINKED.value: _queue_link,
    EventType.PIPELINE_RUN_LINKED.value: _queue_run_link,
    EventType.MODEL_VERSION_METADATA_LOGGED.value: _queue_metadata,
    EventType.PIPELINE_RUN_STARTED.value: _queue_run,
    EventType.ARTIFACT_VERSION_STORED.value: _queue_artifact,
}


def apply_events(conn: Connection, batch: Sequence[ProjectedEvent], only: frozenset[str] | None = None,
                 history: bool = True, bulk: bool = False, links: LinksInDatabase | None = None) -> None:
    """Apply events to the read-model tables and their history twins (no checkpoint).

    ``history=False`` leaves the twins alone: a scratch replay (the reference past read) has none.
    With twins, the rows of the derived views (``temporal.DERIVED``) go to the twins alone: those views are the
    twins' open rows. ``bulk``: a replay of the whole log into empty tables, inside ``bulk_replay.bulk_replay``
    (which copies the stamps of links and run links from their twin rows afterwards).

    ``only`` (table names) skips the row inserts of every other table, for a scratch replay whose
    query reads just those tables. A handler derives a table's rows from that table's own rows,
    and from the other tables :data:`READS` names (see :func:`tables_needed`), so the kept
    tables end up exactly as in a full replay.

    ``links``: the batch holds every event of its range of positions but the artifact links, whose rows the
    database builds (``projections.links_in_database``): those up to each one-event handler's event are
    inserted before it, and the rest at the end.
    """
    writes, current = _Writes(conn, only, history, bulk), CURRENT_SCHEMA.get
    record = writes.history.after if writes.history is not None else None
    for event in batch:
        event_type, data = event.event_type, event.data
        if event.schema_version != current(event_type):  # older, newer or unknown: upcast (or fail loudly)
            data = upcast(event_type, event.schema_version, data)
        queue = BATCHED.get(event_type)
        if queue is not None:  # stamps its model itself (``_Writes.touch``, ``add_version``, ``_queue_model``)
            queue(writes, event, data)
        else:
            writes.flush()
            if links is not None:
                links.insert_through(event.position - 1)
            HANDLERS[event_type](conn, event, data)
            if record is not None:
                record(conn, event, data)
            elif event_type in PRESENT_DELETIONS:
                PRESENT_DELETIONS[event_type](conn, event, data)
    writes.flush()
    if links is not None:
        links.insert_through(links.end)


def save_checkpoint(conn: Connection, previous: int, position: int) -> None:
    """Move the checkpoint from ``previous`` (the position before the events applied) to ``position``.

    A checkpoint anywhere else is refused (IntegrityError) and the caller's transaction rolls back:
    one past the log's end is the trace events removed from the log leave, and writing over it would
    erase that evidence.
    """
    if _SAVE_CHECKPOINT.execute(conn, {"previous": previous, "position": position}).rowcount != 1:
        raise IntegrityError(checkpoint_refusal(read_checkpoint(conn), previous))


def checkpoint_refusal(checkpoint: int, head: int) -> str:
    """The one line a write fails with when the read models' checkpoint is not the log's end."""
    if checkpoint > head:
        return (f"refusing to write: tampering suspected: the read models' checkpoint is at position {checkpoint} "
                f"but the log ends at position {head} (events were removed from the log); run 'modelog log verify'; "
                "'modelog projections rebuild' accepts the log as it is now")
    return (f"refusing to write: the read models' checkpoint is at position {checkpoint}, not at the log's end "
            f"({head}); run 'modelog projections verify' and 'modelog projections rebuild'")


def read_checkpoint(conn: Connection) -> int:
    """The log position the read models reflect."""
    found = conn.execute(t.checkpoints.select().where(t.checkpoints.c.name == t.CHECKPOINT_NAME)).first()
    return int(found.position) if found else 0


class ViewProjector:
    """The registry's read models as a :class:`registry.store.Projector`."""

    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Move the checkpoint (from just before ``events``) and apply them, in the caller's transaction."""
        save_checkpoint(conn, events[0].position - 1, events[-1].position)
        apply_events(conn, events)
