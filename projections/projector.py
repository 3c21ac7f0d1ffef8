"""The projector: turns log events into read-model rows, inline with the append or during a rebuild.

Handlers read the events' JSON data (upcast to the current schema), so this module
needs neither pydantic nor the event classes. The checkpoint is written in the same
transaction as the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from modelog.projections import tables as t
from modelog.projections.bulk_replay import STAMPED_LATER
from modelog.projections.identity import HANDLERS as IDENTITY_HANDLERS
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
from modelog.registry.vocabulary import MODEL_PREFIX, EventType, run_id_of
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.engine import Connection


class ProjectedEvent(Protocol):
    """What the projector reads of an event: a stored event of a live append, or a raw row of a replay."""

    @property
    def position(self) -> int:
        """Log position."""

    @property
    def stream_id(self) -> str:
        """The stream it belongs to (``model-<id>``...)."""

    @property
    def event_type(self) -> str:
        """Its event type (an :class:`EventType` value)."""

    @property
    def schema_version(self) -> int:
        """The schema version its data was written at."""

    @property
    def data(self) -> dict[str, Any]:
        """Its payload (upcast by the projector when older)."""

    @property
    def meta(self) -> dict[str, Any]:
        """Its metadata (actor, run id...)."""

    @property
    def recorded_at(self) -> str:
        """When it was recorded (fixed-width UTC text)."""


Handler = Callable[[Connection, ProjectedEvent, dict[str, Any]], None]
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
_MODEL_ID_START = len(MODEL_PREFIX)  # inlined model_id_of: most events of a replay are model events
_RUNNING, _COMPLETED, _FAILED, _NO_STAGE = RunStatus.RUNNING.value, RunStatus.COMPLETED.value, \
    RunStatus.FAILED.value, Stage.NONE.value  # plain text: rows go to the driver as they are


def _model_id(event: ProjectedEvent) -> str:
    # Only model events reach the handlers that call this, so every stream id is a model stream.
    return event.stream_id[_MODEL_ID_START:]


def _tags_json(tags: Sequence[str]) -> str:
    return canonical_json(list(tags)) if tags else "[]"


def _merge_tags(current: str, added: Sequence[str], removed: Sequence[str]) -> str:
    kept = [tag for tag in json.loads(current) if tag not in removed]
    return _tags_json(kept + [tag for tag in added if tag not in kept])


def _touch_model(conn: Connection, event: ProjectedEvent) -> None:
    conn.execute(update(t.models).where(t.models.c.model_id == _model_id(event)).values(updated_at=event.recorded_at))


def _version_where(event: ProjectedEvent, data: dict[str, Any], table: Any = t.versions) -> Any:
    return and_(table.c.model_id == _model_id(event), table.c.number == data["number"])


def _touch_version(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.versions).where(_version_where(event, data)).values(updated_at=event.recorded_at))
    _touch_model(conn, event)


# --- models --------------------------------------------------------------------------


def _model_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    get, at = data.get, event.recorded_at
    return _MODEL_ROW(
        model_id=data["model_id"], name=data["name"], name_key=name_key(data["name"]), license=get("license"),
        description=get("description"), audience=get("audience"), use_cases=get("use_cases"),
        limitations=get("limitations"), trade_offs=get("trade_offs"), ethics=get("ethics"),
        tags=_tags_json(get("tags", ())), implicit=bool(get("implicit")), created_at=at, updated_at=at,
        created_by=event.meta.get("actor"), version_count=0, latest_version=None)


def _on_model_updated(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    where = t.models.c.model_id == _model_id(event)
    values: dict[str, Any] = dict(data.get("changes", {}))
    if data.get("tags_added") or data.get("tags_removed"):
        current = conn.execute(t.models.select().where(where)).one()
        values["tags"] = _merge_tags(current.tags, data.get("tags_added", ()), data.get("tags_removed", ()))
    conn.execute(update(t.models).where(where).values(updated_at=event.recorded_at, **values))


def _on_model_renamed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # The runs of the model show its name too: they follow it, as the model's own row does.
    model_id, name = _model_id(event), data["new_name"]
    conn.execute(update(t.models).where(t.models.c.model_id == model_id).values(
        name=name, name_key=name_key(name), updated_at=event.recorded_at))
    conn.execute(update(t.runs).where(t.runs.c.model_id == model_id).values(model_name=name))


def _on_model_deleted(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    model_id = _model_id(event)  # its links and run links: the revision closes them (PRESENT_DELETIONS without twins)
    for table in (t.aliases, t.versions, t.models):
        conn.execute(table.delete().where(table.c.model_id == model_id))


# --- versions ------------------------------------------------------------------------


def _version_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    meta, at = event.meta, event.recorded_at
    return _VERSION_ROW(
        model_id=_model_id(event), number=data["number"], name=data["name"], name_key=name_key(data["name"]),
        description=data.get("description"), tags=_tags_json(data.get("tags", ())), stage=_NO_STAGE,
        created_at=at, updated_at=at, created_by=meta.get("actor"), created_run_id=meta.get("run_id"))


def _on_version_updated(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    changes = dict(data.get("changes", {}))
    if changes.get("name") is not None:
        changes["name_key"] = name_key(changes["name"])
    elif "name" in changes:
        changes.pop("name")
    if data.get("tags_added") or data.get("tags_removed"):
        current = conn.execute(t.versions.select().where(_version_where(event, data))).one()
        changes["tags"] = _merge_tags(current.tags, data.get("tags_added", ()), data.get("tags_removed", ()))
    conn.execute(update(t.versions).where(_version_where(event, data)).values(**changes))
    _touch_version(conn, event, data)


def _on_stage_changed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.versions).where(_version_where(event, data)).values(stage=data["to_stage"]))
    _touch_version(conn, event, data)


def _on_alias_set(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    model_id = _model_id(event)
    conn.execute(t.aliases.delete().where(t.aliases.c.model_id == model_id, t.aliases.c.alias == data["alias"]))
    conn.execute(t.aliases.insert().values(model_id=model_id, alias=data["alias"], number=data["number"]))
    _touch_version(conn, event, data)


def _on_alias_removed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    where = and_(t.aliases.c.model_id == _model_id(event), t.aliases.c.alias == data["alias"])
    conn.execute(t.aliases.delete().where(where))
    _touch_version(conn, event, data)


def _on_version_deleted(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    for table in (t.aliases, t.versions):  # links and run links: as for a model's deletion
        conn.execute(table.delete().where(_version_where(event, data, table)))
    model_id, v = _model_id(event), t.versions
    of_model = v.c.model_id == model_id
    conn.execute(update(t.models).where(t.models.c.model_id == model_id).values(
        updated_at=event.recorded_at,
        version_count=select(func.count()).select_from(v).where(of_model).scalar_subquery(),
        latest_version=select(func.max(v.c.number)).where(of_model).scalar_subquery()))


def _on_artifact_unlinked(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    _touch_version(conn, event, data)  # the link itself: as for a model's deletion


# --- the derived views without twins ---------------------------------------------------------


def _delete_links_of_model(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    model_id = _model_id(event)
    for table in (t.artifact_links, t.run_links):
        conn.execute(table.delete().where(table.c.model_id == model_id))


def _delete_links_of_version(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    for table in (t.artifact_links, t.run_links):
        conn.execute(table.delete().where(_version_where(event, data, table)))


def _delete_link(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    links = t.artifact_links
    conn.execute(links.delete().where(
        _version_where(event, data, links), links.c.pipeline == data["pipeline"], links.c.step == data["step"],
        links.c.name == data["name"], links.c.kind == data["kind"],
    ))


#: What the handlers' events delete from the derived views (``temporal.DERIVED``), done here only where those
#: views are tables of their own: a scratch replay without twins. With twins, the views are the twins' open rows,
#: and the event's revision (``temporal.REVISIONS``) closes the rows instead.
PRESENT_DELETIONS: dict[str, Handler] = {
    EventType.MODEL_DELETED.value: _delete_links_of_model,
    EventType.MODEL_VERSION_DELETED.value: _delete_links_of_version,
    EventType.ARTIFACT_UNLINKED.value: _delete_link,
}


def _run_link_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    return _RUN_LINK_ROW(model_id=_model_id(event), number=data["number"], run_id=data["run_id"],
                         pipeline=data["pipeline"], created_at=event.recorded_at, position=event.position)


# --- runs and artifacts ----------------------------------------------------------------


def _run_where(event: ProjectedEvent) -> Any:
    return t.runs.c.run_id == run_id_of(event.stream_id)


def _run_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    get = data.get
    return _RUN_ROW(
        run_id=data["run_id"], pipeline=data["pipeline"], status=_RUNNING, model_id=get("model_id"),
        model_name=get("model_name"), version_number=get("version_number"),
        created_version=bool(get("created_version")), started_at=event.recorded_at, finished_at=None,
        steps_completed=0, failed_step=None, error_type=None, error_message=None, started_by=event.meta.get("actor"))


def _on_step_completed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    run_id = run_id_of(event.stream_id)
    conn.execute(t.step_runs.insert().values(
        run_id=run_id, step=data["step"], cached=bool(data.get("cached")), cache_key=data.get("cache_key"),
        outputs=canonical_json(data.get("outputs", [])), duration_ms=float(data.get("duration_ms", 0.0)),
        completed_at=event.recorded_at,
    ))
    conn.execute(update(t.runs).where(_run_where(event)).values(steps_completed=t.runs.c.steps_completed + 1))


def _on_run_completed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.runs).where(_run_where(event)).values(status=_COMPLETED, finished_at=event.recorded_at))


def _on_run_failed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.runs).where(_run_where(event)).values(
        status=_FAILED, finished_at=event.recorded_at, failed_step=data.get("step"),
        error_type=data["error_type"], error_message=data["error_message"],
    ))


def _artifact_row(event: ProjectedEvent, data: dict[str, Any]) -> list[Any]:
    return _ARTIFACT_ROW(
        artifact_id=data["artifact_id"], name=data["name"], name_key=name_key(data["name"]), version=data["version"],
        uri=data["uri"], content_hash=data["content_hash"], data_type=data["data_type"],
        materializer=data["materializer"], run_id=data.get("run_id"), step=data.get("step"),
        created_at=event.recorded_at)


#: Handlers that update or delete rows, applied one event at a time (the rest are in ``BATCHED``).
HANDLERS: dict[str, Handler] = {
    EventType.MODEL_UPDATED.value: _on_model_updated,
    EventType.MODEL_DELETED.value: _on_model_deleted,
    EventType.MODEL_RENAMED.value: _on_model_renamed,
    EventType.MODEL_VERSION_UPDATED.value: _on_version_updated,
    EventType.MODEL_VERSION_STAGE_CHANGED.value: _on_stage_changed,
    EventType.MODEL_VERSION_ALIAS_SET.value: _on_alias_set,
    EventType.MODEL_VERSION_ALIAS_REMOVED.value: _on_alias_removed,
    EventType.MODEL_VERSION_DELETED.value: _on_version_deleted,
    EventType.ARTIFACT_UNLINKED.value: _on_artifact_unlinked,
    EventType.PIPELINE_STEP_COMPLETED.value: _on_step_completed,
    EventType.PIPELINE_RUN_COMPLETED.value: _on_run_completed,
    EventType.PIPELINE_RUN_FAILED.value: _on_run_failed,
}

HANDLERS.update(IDENTITY_HANDLERS)

#: Tables a handler reads rows of (beyond the model row): a replay that keeps only some tables
#: (``apply_events(only=...)``) must keep these too whenever such an event is replayed. A tag
#: change merges into the version's stored tags; a deletion recounts the model's versions.
READS: dict[str, frozenset[str]] = {EventType.MODEL_VERSION_UPDATED.value: frozenset({t.versions.name}),
                                    EventType.MODEL_VERSION_DELETED.value: frozenset({t.versions.name})}


def tables_needed(only: frozenset[str], events: Sequence[ProjectedEvent]) -> frozenset[str]:
    """``only`` plus the tables the handlers of ``events`` read (see :data:`READS`)."""
    extra = [READS[e.event_type] for e in events if e.event_type in READS]
    return only.union(*extra) if extra else only


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
        writes.history.registered(_model_id(event), event.position, event.recorded_at)


def _queue_version(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.versions.name, _version_row, event, data)
    writes.add_version(_model_id(event), data["number"], event.position, event.recorded_at)


def _queue_link(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # Most events of a large registry are links: this path builds the model id and the row once each.
    # The row is built here rather than by a row builder: one call fewer per link.
    model_id, number, position, history = _model_id(event), data["number"], event.position, writes.history
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
    writes.touch(_model_id(event), event.position, event.recorded_at, data["number"], t.run_links.name)


def _queue_metadata(writes: _Writes, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # One row per key logged (see ``tables.version_metadata``, its own history: no twin); the version is touched.
    model_id, number, position, at = _model_id(event), data["number"], event.position, event.recorded_at
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
