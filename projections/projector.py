"""The projector: turns log events into read-model rows, inline with the append or during a rebuild.

Handlers read the events' JSON data (upcast to the current schema), so this module
needs neither pydantic nor the event classes. The checkpoint is written in the same
transaction as the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from modelog.projections import tables as t
from modelog.registry._sql.driver import DriverStatement, PositionalInsert
from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.hashing import canonical_json
from modelog.registry.store import StoredEvent
from modelog.registry.validation import name_key
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.engine import Connection

Handler = Callable[[Connection, StoredEvent, dict[str, Any]], None]
#: Builds the row an event inserts, as a list in the table's column order (see ``_INSERTS``).
RowBuilder = Callable[[StoredEvent, dict[str, Any]], list[Any]]
MODEL_FIELDS = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")


_MODEL_PREFIX = len("model-")


def _model_id(event: StoredEvent) -> str:
    # Only model events reach the handlers that call this, so every stream id starts with "model-".
    return event.stream_id[_MODEL_PREFIX:]


def _tags_json(tags: Sequence[str]) -> str:
    return canonical_json(list(tags)) if tags else "[]"


def _merge_tags(current: str, added: Sequence[str], removed: Sequence[str]) -> str:
    kept = [tag for tag in json.loads(current) if tag not in removed]
    return _tags_json(kept + [tag for tag in added if tag not in kept])


def _touch_model(conn: Connection, event: StoredEvent) -> None:
    conn.execute(update(t.models).where(t.models.c.model_id == _model_id(event)).values(updated_at=event.recorded_at))


def _version_where(event: StoredEvent, data: dict[str, Any], table: Any = t.versions) -> Any:
    return and_(table.c.model_id == _model_id(event), table.c.number == data["number"])


def _touch_version(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.versions).where(_version_where(event, data)).values(updated_at=event.recorded_at))
    _touch_model(conn, event)


# --- models --------------------------------------------------------------------------


def _model_row(event: StoredEvent, data: dict[str, Any]) -> list[Any]:
    get, at = data.get, event.recorded_at
    return [data["model_id"], data["name"], name_key(data["name"]), get("license"), get("description"),
            get("audience"), get("use_cases"), get("limitations"), get("trade_offs"), get("ethics"),
            _tags_json(get("tags", ())), bool(get("implicit")), at, at, event.meta.get("actor"), 0, None]


def _on_model_updated(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    where = t.models.c.model_id == _model_id(event)
    values: dict[str, Any] = dict(data.get("changes", {}))
    if data.get("tags_added") or data.get("tags_removed"):
        current = conn.execute(t.models.select().where(where)).one()
        values["tags"] = _merge_tags(current.tags, data.get("tags_added", ()), data.get("tags_removed", ()))
    conn.execute(update(t.models).where(where).values(updated_at=event.recorded_at, **values))


def _on_model_deleted(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    model_id = _model_id(event)
    for table in (t.artifact_links, t.run_links, t.aliases, t.versions, t.models):
        conn.execute(table.delete().where(table.c.model_id == model_id))


# --- versions ------------------------------------------------------------------------


def _version_row(event: StoredEvent, data: dict[str, Any]) -> list[Any]:
    meta, at = event.meta, event.recorded_at
    return [_model_id(event), data["number"], data["name"], name_key(data["name"]), data.get("description"),
            _tags_json(data.get("tags", ())), "none", at, at, meta.get("actor"), meta.get("run_id")]


def _on_version_updated(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
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


def _on_stage_changed(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.versions).where(_version_where(event, data)).values(stage=data["to_stage"]))
    _touch_version(conn, event, data)


def _on_alias_set(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    model_id = _model_id(event)
    conn.execute(t.aliases.delete().where(t.aliases.c.model_id == model_id, t.aliases.c.alias == data["alias"]))
    conn.execute(t.aliases.insert().values(model_id=model_id, alias=data["alias"], number=data["number"]))
    _touch_version(conn, event, data)


def _on_alias_removed(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    where = and_(t.aliases.c.model_id == _model_id(event), t.aliases.c.alias == data["alias"])
    conn.execute(t.aliases.delete().where(where))
    _touch_version(conn, event, data)


def _on_version_deleted(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    for table in (t.artifact_links, t.run_links, t.aliases, t.versions):
        conn.execute(table.delete().where(_version_where(event, data, table)))
    model_id, v = _model_id(event), t.versions
    of_model = v.c.model_id == model_id
    conn.execute(update(t.models).where(t.models.c.model_id == model_id).values(
        updated_at=event.recorded_at,
        version_count=select(func.count()).select_from(v).where(of_model).scalar_subquery(),
        latest_version=select(func.max(v.c.number)).where(of_model).scalar_subquery()))


def _link_row(model_id: str, event: StoredEvent, data: dict[str, Any]) -> tuple[Any, ...]:
    # A tuple: nothing touches a link row once queued (only model and version rows get touched).
    return (model_id, data["number"], data["pipeline"], data["step"], data["name"], data["kind"],
            data["link_version"], data["artifact_id"], data["artifact_name"], data["artifact_version"],
            data["content_hash"], data.get("run_id"), event.recorded_at, event.position)


def _on_artifact_unlinked(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    links = t.artifact_links
    conn.execute(links.delete().where(
        _version_where(event, data, links), links.c.pipeline == data["pipeline"], links.c.step == data["step"],
        links.c.name == data["name"], links.c.kind == data["kind"],
    ))
    _touch_version(conn, event, data)


def _run_link_row(event: StoredEvent, data: dict[str, Any]) -> list[Any]:
    return [_model_id(event), data["number"], data["run_id"], data["pipeline"], event.recorded_at, event.position]


# --- runs and artifacts ----------------------------------------------------------------


def _run_where(event: StoredEvent) -> Any:
    return t.runs.c.run_id == event.stream_id.removeprefix("run-")


def _run_row(event: StoredEvent, data: dict[str, Any]) -> list[Any]:
    get = data.get
    return [data["run_id"], data["pipeline"], "running", get("model_id"), get("model_name"), get("version_number"),
            bool(get("created_version")), event.recorded_at, None, 0, None, None, None, event.meta.get("actor")]


def _on_step_completed(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    run_id = event.stream_id.removeprefix("run-")
    conn.execute(t.step_runs.insert().values(
        run_id=run_id, step=data["step"], cached=bool(data.get("cached")), cache_key=data.get("cache_key"),
        outputs=canonical_json(data.get("outputs", [])), duration_ms=float(data.get("duration_ms", 0.0)),
        completed_at=event.recorded_at,
    ))
    conn.execute(update(t.runs).where(_run_where(event)).values(steps_completed=t.runs.c.steps_completed + 1))


def _on_run_completed(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.runs).where(_run_where(event)).values(status="completed", finished_at=event.recorded_at))


def _on_run_failed(conn: Connection, event: StoredEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.runs).where(_run_where(event)).values(
        status="failed", finished_at=event.recorded_at, failed_step=data.get("step"),
        error_type=data["error_type"], error_message=data["error_message"],
    ))


def _artifact_row(event: StoredEvent, data: dict[str, Any]) -> list[Any]:
    return [data["artifact_id"], data["name"], name_key(data["name"]), data["version"], data["uri"],
            data["content_hash"], data["data_type"], data["materializer"], data.get("run_id"), data.get("step"),
            event.recorded_at]


#: Handlers that update or delete rows, applied one event at a time (the rest are in ``BATCHED``).
HANDLERS: dict[str, Handler] = {
    "ModelUpdated": _on_model_updated,
    "ModelDeleted": _on_model_deleted,
    "ModelVersionUpdated": _on_version_updated,
    "ModelVersionStageChanged": _on_stage_changed,
    "ModelVersionAliasSet": _on_alias_set,
    "ModelVersionAliasRemoved": _on_alias_removed,
    "ModelVersionDeleted": _on_version_deleted,
    "ArtifactUnlinked": _on_artifact_unlinked,
    "PipelineStepCompleted": _on_step_completed,
    "PipelineRunCompleted": _on_run_completed,
    "PipelineRunFailed": _on_run_failed,
}

#: Tables a handler reads rows of (beyond the model row): a replay that keeps only some tables
#: (``apply_events(only=...)``) must keep these too whenever such an event is replayed. A tag
#: change merges into the version's stored tags; a deletion recounts the model's versions.
READS: dict[str, frozenset[str]] = {"ModelVersionUpdated": frozenset({t.versions.name}),
                                    "ModelVersionDeleted": frozenset({t.versions.name})}


def tables_needed(only: frozenset[str], events: Sequence[StoredEvent]) -> frozenset[str]:
    """``only`` plus the tables the handlers of ``events`` read (see :data:`READS`)."""
    extra = [READS[e.event_type] for e in events if e.event_type in READS]
    return only.union(*extra) if extra else only


# --- batched application --------------------------------------------------------------

_INSERTS = {table.name: PositionalInsert(table)
            for table in (t.models, t.versions, t.artifact_links, t.run_links, t.runs, t.artifacts)}
_MODEL_UPDATED_AT = _INSERTS[t.models.name].columns.index("updated_at")
_MODEL_VERSION_COUNT = _INSERTS[t.models.name].columns.index("version_count")
_MODEL_LATEST_VERSION = _INSERTS[t.models.name].columns.index("latest_version")
_VERSION_UPDATED_AT = _INSERTS[t.versions.name].columns.index("updated_at")
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
    update(t.checkpoints).where(t.checkpoints.c.name == t.CHECKPOINT_NAME).values(position=bindparam("position")))


class _Writes:
    """Row inserts and ``updated_at`` touches of a run of events, flushed as one executemany per statement.

    Only these two kinds of write are deferred, and every other handler flushes first, so each
    statement still sees the rows of the events before it. Inserts land before touches, and a
    touch only sets ``updated_at``, so keeping the last touch per row leaves exactly what a
    one-statement-per-event replay leaves. A touch of a row queued in the same run is folded
    into that row before it is inserted, for the same reason. ``only`` keeps the rows of just
    those tables (see :func:`apply_events`).
    """

    def __init__(self, conn: Connection, only: frozenset[str] | None = None) -> None:
        self.conn, self.only = conn, only
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

    def insert(self, table: str, row: Sequence[Any]) -> None:
        """Queue a row for ``table``."""
        found = self.rows.get(table)
        if found is None:
            self.rows[table] = [row]
        else:
            found.append(row)

    def insert_built(self, table: str, build: RowBuilder, event: StoredEvent, data: dict[str, Any]) -> None:
        """Queue the row ``build`` makes of the event for ``table`` (not built unless ``table`` is kept)."""
        if self.keeps(table):
            row = build(event, data)
            self.insert(table, row)
            if table == _VERSIONS:
                self.new_versions[(row[0], row[1])] = row
            elif table == _MODELS:
                self.new_models[row[0]] = row

    def touch(self, model_id: str, at: str, number: int | None = None) -> None:
        """Queue ``updated_at`` of a model (and of one of its versions)."""
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

    def add_version(self, model_id: str, number: int, at: str) -> None:
        """Count a version created in a model, which is now its latest, and touch the model.

        Version numbers only grow within a model (they are never reused), so the version just
        created is the model's highest.
        """
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
            _INSERTS[table].executemany(self.conn, list(map(tuple, rows)))
        _TOUCH_VERSION.executemany(self.conn, [{"key_model": m, "key_number": n, "key_at": at}
                                               for (m, n), at in self.versions.items()])
        models, added = self.models, self.added
        _ADD_VERSIONS.executemany(self.conn, [{"key_model": m, "key_added": count, "key_latest": latest,
                                               "key_at": models[m]} for m, (count, latest) in added.items()])
        _TOUCH_MODEL.executemany(self.conn, [{"key_model": m, "key_at": at} for m, at in models.items()
                                             if m not in added])
        self._reset()


_MODELS, _VERSIONS, _LINKS = t.models.name, t.versions.name, t.artifact_links.name


def _queue_model(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.models.name, _model_row, event, data)


def _queue_version(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.versions.name, _version_row, event, data)
    writes.add_version(_model_id(event), data["number"], event.recorded_at)


def _queue_link(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    # Most events of a large registry are links: this path builds the model id and the row once each.
    model_id = _model_id(event)
    if writes.keeps(_LINKS):
        writes.insert(_LINKS, _link_row(model_id, event, data))
    writes.touch(model_id, event.recorded_at, data["number"])


def _queue_run_link(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.run_links.name, _run_link_row, event, data)
    writes.touch(_model_id(event), event.recorded_at, data["number"])


def _queue_run(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.runs.name, _run_row, event, data)


def _queue_artifact(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    writes.insert_built(t.artifacts.name, _artifact_row, event, data)


def _queue_nothing(writes: _Writes, event: StoredEvent, data: dict[str, Any]) -> None:
    """Name claims have no read model of their own."""


#: Handlers that only insert rows and touch ``updated_at``: their writes are batched.
BATCHED: dict[str, Callable[[_Writes, StoredEvent, dict[str, Any]], None]] = {
    "ModelNameClaimed": _queue_nothing,
    "ModelNameReleased": _queue_nothing,
    "ModelRegistered": _queue_model,
    "ModelVersionCreated": _queue_version,
    "ArtifactLinked": _queue_link,
    "PipelineRunLinked": _queue_run_link,
    "PipelineRunStarted": _queue_run,
    "ArtifactVersionStored": _queue_artifact,
}


def apply_events(conn: Connection, batch: Sequence[StoredEvent], only: frozenset[str] | None = None) -> None:
    """Apply events to the read-model tables (no checkpoint).

    ``only`` (table names) skips the row inserts of every other table, for a scratch replay whose
    query reads just those tables. A handler derives a table's rows from that table's own rows,
    and from the other tables :data:`READS` names (see :func:`tables_needed`), so the kept
    tables end up exactly as in a full replay.
    """
    writes, current = _Writes(conn, only), CURRENT_SCHEMA.get
    for event in batch:
        event_type, data = event.event_type, event.data
        if event.schema_version != current(event_type):  # older, newer or unknown: upcast (or fail loudly)
            data = upcast(event_type, event.schema_version, data)
        queue = BATCHED.get(event_type)
        if queue is not None:
            queue(writes, event, data)
        else:
            writes.flush()
            HANDLERS[event_type](conn, event, data)
    writes.flush()


def save_checkpoint(conn: Connection, position: int) -> None:
    """Record how far the read models reflect the log."""
    _SAVE_CHECKPOINT.execute(conn, {"position": position})


def read_checkpoint(conn: Connection) -> int:
    """The log position the read models reflect."""
    found = conn.execute(t.checkpoints.select().where(t.checkpoints.c.name == t.CHECKPOINT_NAME)).first()
    return int(found.position) if found else 0


class ViewProjector:
    """The registry's read models as a :class:`registry.store.Projector`."""

    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Apply ``events`` and move the checkpoint, in the caller's transaction."""
        apply_events(conn, events)
        save_checkpoint(conn, events[-1].position)
