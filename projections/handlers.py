"""The projector's one-event handlers: events that update or delete read-model rows, applied one at a time.

The batched events (inserts and ``updated_at`` touches) are queued by ``projections.projector``; an event of
a type in :data:`HANDLERS` first flushes what is queued, then runs here, so it sees every earlier row.
Handlers read the events' JSON data (upcast to the current schema), never pydantic models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from modelog.projections import tables as t
from modelog.projections.identity import HANDLERS as IDENTITY_HANDLERS
from modelog.projections.temporal import HistoryEvent
from modelog.registry.hashing import canonical_json
from modelog.registry.validation import name_key
from modelog.registry.values import RunStatus
from modelog.registry.vocabulary import MODEL_PREFIX, EventType, run_id_of
from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection


class ProjectedEvent(HistoryEvent, Protocol):
    """What the projector reads of an event: a stored event of a live append, or a raw row of a replay.

    Its position, stream id, event type and time (``temporal.HistoryEvent``), and:
    """

    @property
    def schema_version(self) -> int:
        """The schema version its data was written at."""

    @property
    def data(self) -> dict[str, Any]:
        """Its payload (upcast by the projector when older)."""

    @property
    def meta(self) -> dict[str, Any]:
        """Its metadata (actor, run id...)."""


Handler = Callable[[Connection, ProjectedEvent, dict[str, Any]], None]
_MODEL_ID_START = len(MODEL_PREFIX)  # inlined model_id_of: most events of a replay are model events
_COMPLETED, _FAILED = RunStatus.COMPLETED.value, RunStatus.FAILED.value  # plain text: rows go to the driver as they are


def event_model_id(event: ProjectedEvent) -> str:
    """The model id of a model stream's event."""
    # Only model events reach the handlers that call this, so every stream id is a model stream.
    return event.stream_id[_MODEL_ID_START:]


def tags_json(tags: Sequence[str]) -> str:
    """Tags as the read models store them (canonical JSON)."""
    return canonical_json(list(tags)) if tags else "[]"


def _merge_tags(current: str, added: Sequence[str], removed: Sequence[str]) -> str:
    kept = [tag for tag in json.loads(current) if tag not in removed]
    return tags_json(kept + [tag for tag in added if tag not in kept])


def _touch_model(conn: Connection, event: ProjectedEvent) -> None:
    where = t.models.c.model_id == event_model_id(event)
    conn.execute(update(t.models).where(where).values(updated_at=event.recorded_at))


def _version_where(event: ProjectedEvent, data: dict[str, Any], table: Any = t.versions) -> Any:
    return and_(table.c.model_id == event_model_id(event), table.c.number == data["number"])


def _touch_version(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    conn.execute(update(t.versions).where(_version_where(event, data)).values(updated_at=event.recorded_at))
    _touch_model(conn, event)

# --- models --------------------------------------------------------------------------


def _on_model_updated(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    where = t.models.c.model_id == event_model_id(event)
    values: dict[str, Any] = dict(data.get("changes", {}))
    if data.get("tags_added") or data.get("tags_removed"):
        current = conn.execute(t.models.select().where(where)).one()
        values["tags"] = _merge_tags(current.tags, data.get("tags_added", ()), data.get("tags_removed", ()))
    conn.execute(update(t.models).where(where).values(updated_at=event.recorded_at, **values))


def _on_model_renamed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    # The runs of the model show its name too: they follow it, as the model's own row does.
    model_id, name = event_model_id(event), data["new_name"]
    conn.execute(update(t.models).where(t.models.c.model_id == model_id).values(
        name=name, name_key=name_key(name), updated_at=event.recorded_at))
    conn.execute(update(t.runs).where(t.runs.c.model_id == model_id).values(model_name=name))


def _on_model_deleted(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    model_id = event_model_id(event)  # links and run links: its revision closes them (PRESENT_DELETIONS if no twins)
    for table in (t.aliases, t.versions, t.models):
        conn.execute(table.delete().where(table.c.model_id == model_id))

# --- versions ------------------------------------------------------------------------


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
    model_id = event_model_id(event)
    conn.execute(t.aliases.delete().where(t.aliases.c.model_id == model_id, t.aliases.c.alias == data["alias"]))
    conn.execute(t.aliases.insert().values(model_id=model_id, alias=data["alias"], number=data["number"]))
    _touch_version(conn, event, data)


def _on_alias_removed(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    where = and_(t.aliases.c.model_id == event_model_id(event), t.aliases.c.alias == data["alias"])
    conn.execute(t.aliases.delete().where(where))
    _touch_version(conn, event, data)


def _on_version_deleted(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    for table in (t.aliases, t.versions):  # links and run links: as for a model's deletion
        conn.execute(table.delete().where(_version_where(event, data, table)))
    model_id, v = event_model_id(event), t.versions
    of_model = v.c.model_id == model_id
    conn.execute(update(t.models).where(t.models.c.model_id == model_id).values(
        updated_at=event.recorded_at,
        version_count=select(func.count()).select_from(v).where(of_model).scalar_subquery(),
        latest_version=select(func.max(v.c.number)).where(of_model).scalar_subquery()))


def _on_artifact_unlinked(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    _touch_version(conn, event, data)  # the link itself: as for a model's deletion


# --- the derived views without twins ---------------------------------------------------------


def _delete_links_of_model(conn: Connection, event: ProjectedEvent, data: dict[str, Any]) -> None:
    model_id = event_model_id(event)
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

# --- runs ------------------------------------------------------------------------------


def _run_where(event: ProjectedEvent) -> Any:
    return t.runs.c.run_id == run_id_of(event.stream_id)

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
