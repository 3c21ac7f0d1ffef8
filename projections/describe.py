"""Describe views: a model or a version with everything a person asks about it, and version metadata.

Built from the same read models as :mod:`projections.queries` (live or at a past point, through
its readers), plus the metadata table (``tables.version_metadata``) and the last event of each
model's stream (who changed it last).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from modelog.projections import tables as t
from modelog.projections.history import HistoryEntry
from modelog.projections.queries import MODEL_LIST_TABLES, ReadModel
from modelog.projections.read_statements import SORT_FIELDS
from modelog.projections.temporal_reads import Views
from modelog.projections.views import LinkView, ModelView, Page, RunView, VersionView
from modelog.registry.errors import InvalidInputError
from modelog.registry.schema import events
from modelog.registry.values import Stage
from modelog.registry.vocabulary import MODEL_PREFIX, EventType, model_stream
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

_PRODUCTION, _STAGING = Stage.PRODUCTION.value, Stage.STAGING.value


@dataclass(frozen=True)
class MetadataValue:
    """One value logged on a version: the key, the value, and when and by whom (its log position)."""

    key: str
    value: Any
    position: int
    recorded_at: str
    actor: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class ModelSummary:
    """A model as ``model list`` shows it: which versions hold production and staging, who changed it last."""

    model: ModelView
    production: int | None
    staging: int | None
    updated_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape: the model's keys plus production, staging and updated_by."""
        return {**self.model.as_dict(), "production": self.production, "staging": self.staging,
                "updated_by": self.updated_by}


@dataclass(frozen=True)
class ModelDescription:
    """A model with its versions, aliases and latest activity."""

    model: ModelView
    versions: tuple[VersionView, ...]
    aliases: dict[str, int]
    last_event: HistoryEntry | None

    def by_stage(self) -> dict[str, list[int]]:
        """Version numbers in each stage that has any, in stage order."""
        found: dict[str, list[int]] = {}
        for stage in Stage:
            numbers = [v.number for v in self.versions if v.stage == stage.value]
            if numbers:
                found[stage.value] = numbers
        return found

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {"model": self.model.as_dict(), "versions": [v.as_dict() for v in self.versions],
                "stages": self.by_stage(), "aliases": dict(self.aliases),
                "last_event": None if self.last_event is None else self.last_event.as_dict()}


@dataclass(frozen=True)
class VersionDescription:
    """A version with its metadata (current values and every value logged), artifacts, runs and stage history."""

    version: VersionView
    metadata: dict[str, Any]
    metadata_history: tuple[MetadataValue, ...]
    links: tuple[LinkView, ...]
    runs: tuple[RunView, ...]
    stage_history: tuple[HistoryEntry, ...]

    def metrics(self) -> dict[str, float]:
        """The current numeric values (booleans excluded)."""
        return {k: v for k, v in self.metadata.items() if isinstance(v, int | float) and not isinstance(v, bool)}

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {"version": self.version.as_dict(), "metadata": dict(self.metadata), "metrics": self.metrics(),
                "metadata_history": [m.as_dict() for m in self.metadata_history],
                "links": [link.as_dict() for link in self.links], "runs": [r.as_dict() for r in self.runs],
                "stage_history": [h.as_dict() for h in self.stage_history]}


@dataclass(frozen=True)
class VersionComparison:
    """Two or more versions of one model, described side by side."""

    model_name: str
    versions: tuple[VersionDescription, ...]

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {"model_name": self.model_name, "versions": [v.as_dict() for v in self.versions]}


@dataclass(frozen=True)
class VersionRow:
    """A version with its current metadata, as a sorted / filtered listing returns it."""

    version: VersionView
    metadata: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape: the version's keys plus metadata."""
        return {**self.version.as_dict(), "metadata": dict(self.metadata)}


# --- queries -----------------------------------------------------------------------------


def _metadata_rows(conn: Connection, model_id: str, numbers: Sequence[int] | None, position: int | None) -> list[Any]:
    m = t.version_metadata
    query = select(m).where(m.c.model_id == model_id)
    if position is not None:  # rows are only ever added, each at its event's position: no history twin is needed
        query = query.where(m.c.position <= position)
    if numbers is not None:
        query = query.where(m.c.number.in_(list(numbers)))
    return list(conn.execute(query.order_by(m.c.number, m.c.position, m.c.key)))


def _value(row: Any) -> MetadataValue:
    return MetadataValue(row.key, json.loads(row.value), int(row.position), row.recorded_at, row.actor)


def version_metadata(reads: ReadModel, model: str, numbers: Sequence[int] | None,
                     position: int | None) -> dict[int, list[MetadataValue]]:
    """Every value logged on the versions ``numbers`` (None: all) of ``model``, oldest first, by number."""
    found: dict[int, list[MetadataValue]] = {}
    with reads._model_reader(model, position) as (conn, model_id, _):  # noqa: SLF001 - the read models' own reader
        for row in _metadata_rows(conn, model_id, numbers, position):
            found.setdefault(int(row.number), []).append(_value(row))
    return found


def current_values(history: Sequence[MetadataValue]) -> dict[str, Any]:
    """The latest value of each key (``history`` oldest first)."""
    return {entry.key: entry.value for entry in history}


def describe_version(reads: ReadModel, model: str, version: Any, position: int | None) -> VersionDescription:
    """A version of ``model`` with its metadata, links, runs and stage history (live when ``position`` is None)."""
    found = reads.get_version(model, version, at_position=position)
    links = reads.list_links(model, found.number, at_position=position)
    runs = reads.list_version_runs(model, found.number, at_position=position)
    history = version_metadata(reads, model, [found.number], position).get(found.number, [])
    stages = [entry for entry in reads.history(model, at_position=position)
              if entry.event_type == EventType.MODEL_VERSION_STAGE_CHANGED and entry.data["number"] == found.number]
    return VersionDescription(found, current_values(history), tuple(history), tuple(links), tuple(runs),
                              tuple(stages))


def describe_model(reads: ReadModel, name: str, position: int | None) -> ModelDescription:
    """A model with its versions, aliases and last event (live when ``position`` is None)."""
    found = reads.get_model(name, at_position=position)
    versions = reads.list_versions(name, at_position=position)
    aliases = {alias: v.number for v in versions for alias in v.aliases}
    history = reads.history(name, at_position=position)
    return ModelDescription(found, tuple(versions), dict(sorted(aliases.items())), history[-1] if history else None)


def _stage_holders(conn: Connection, tb: Views, model_ids: list[str]) -> dict[tuple[str, str], int]:
    v = tb.versions
    query = select(v.c.model_id, v.c.stage, v.c.number).where(
        v.c.model_id.in_(model_ids), v.c.stage.in_([_PRODUCTION, _STAGING]))
    return {(row.model_id, row.stage): int(row.number) for row in conn.execute(query)}


def _last_actors(reads: ReadModel, model_ids: list[str], position: int | None) -> dict[str, str | None]:
    """Who wrote the last event of each model's stream (up to ``position``), in one query."""
    if not model_ids:
        return {}
    streams = {model_stream(model_id): model_id for model_id in model_ids}
    last = select(events.c.stream_id, func.max(events.c.stream_version).label("version")).where(
        events.c.stream_id.in_(list(streams)))
    if position is not None:
        last = last.where(events.c.position <= position)
    newest = last.group_by(events.c.stream_id).subquery()
    query = select(events.c.stream_id, events.c.meta).join(
        newest, and_(events.c.stream_id == newest.c.stream_id, events.c.stream_version == newest.c.version))
    with reads.engine.connect() as conn:
        return {streams[stream_id]: json.loads(meta).get("actor") for stream_id, meta in conn.execute(query)}


def list_model_summaries(reads: ReadModel, *, name: str | None, tag: str | None, sort_by: str, page: int,
                         size: int, position: int | None) -> Page[ModelSummary]:
    """A page of models with their production and staging versions and who changed each last."""
    if sort_by not in SORT_FIELDS:
        raise InvalidInputError(f"cannot sort by {sort_by!r}; choose one of {', '.join(SORT_FIELDS)}")
    if page < 1 or size < 1 or size > 10_000:
        raise InvalidInputError("page must be >= 1 and size between 1 and 10000")
    with reads._all_reader(position, lambda p: reads._log_batches(MODEL_PREFIX, p),  # noqa: SLF001
                           MODEL_LIST_TABLES) as (conn, tb):
        models = reads._model_page(conn, tb, name, tag, sort_by, page, size)  # noqa: SLF001
        ids = [m.id for m in models.items]
        holders = _stage_holders(conn, tb, ids) if ids else {}
    actors = _last_actors(reads, ids, position)
    items = [ModelSummary(m, holders.get((m.id, _PRODUCTION)), holders.get((m.id, _STAGING)), actors.get(m.id))
             for m in models.items]
    return Page(items, models.total, models.page, models.size)


def all_model_names(reads: ReadModel) -> list[str]:
    """Every live model name (for suggestions when a name is not found)."""
    with reads.engine.connect() as conn:
        return [str(name) for name in conn.execute(select(t.models.c.name)).scalars()]
