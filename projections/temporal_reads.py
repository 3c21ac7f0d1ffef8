"""The read-model tables as they were at a log position, built from their history twins.

:data:`PAST` holds one selectable per view table with exactly the view table's columns in its
column order: the twin's rows valid at P (``valid_from <= P < valid_to``), and the stamped columns
derived from ``hist_stamps`` and the version twin. The queries of :mod:`projections.queries` run
unchanged over either the present tables (:data:`PRESENT`) or these. P is a bound parameter whose
value is read when a statement executes, from the context :func:`views_at` sets: the selectables
are built (and their SQL compiled and cached) once, not per read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from modelog.projections import tables as t
from modelog.projections import temporal as h
from modelog.registry.schema import PositionType
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Views:
    """One selectable per read-model table (the tables themselves, or their state at a position)."""

    models: Any
    versions: Any
    aliases: Any
    artifact_links: Any
    run_links: Any
    runs: Any
    step_runs: Any
    artifacts: Any
    #: The number of models (a one-column select): a count of the table now, one probe of ``hist_model_counts`` then.
    model_total: Any


PRESENT = Views(t.models, t.versions, t.aliases, t.artifact_links, t.run_links, t.runs, t.step_runs, t.artifacts,
                select(func.count()).select_from(t.models))
_AS_OF: ContextVar[int] = ContextVar("modelog_as_of_position")
#: The position a past read is about, read from the context when the statement executes.
POSITION = bindparam("as_of_position", callable_=_AS_OF.get, type_=PositionType)


def _valid(twin: Any, position: Any) -> list[Any]:
    return [twin.c.valid_from <= position, twin.c.valid_to > position]


def _latest_stamp(position: Any, model_id: Any, number: Any = None) -> Any:
    s = h.stamps
    where = [s.c.model_id == model_id, s.c.position <= position]
    if number is not None:
        where.append(s.c.number == number)
    return select(s.c.updated_at).where(*where).order_by(s.c.position.desc()).limit(1).scalar_subquery()


def _version_count(position: Any, model_id: Any) -> Any:
    v = h.versions.alias("counted")
    return select(func.count()).where(v.c.model_id == model_id, *_valid(v, position)).scalar_subquery()


def _latest_version(position: Any, model_id: Any) -> Any:
    # Walks the model's versions down from the highest number: the first valid one is nearly always the first.
    v = h.versions.alias("latest")
    return (select(v.c.number).where(v.c.model_id == model_id, *_valid(v, position))
            .order_by(v.c.number.desc()).limit(1).scalar_subquery())


def _if_untouched_since(column: str, position: Any, model_id: Any) -> Any:
    """The model's present ``column`` if no event touched the model after ``position``, else NULL.

    Every event that changes a model's version count (a version created or deleted) is stamped, so with
    no stamp after P the present count is the count at P (a model deleted since has no present row:
    NULL). Two probes, where counting the versions valid at P reads one index entry per version (999
    for a large model: most of a past read of it on PostgreSQL).
    """
    s = h.stamps
    last_touched = select(func.max(s.c.position)).where(s.c.model_id == t.models.c.model_id).scalar_subquery()
    return select(t.models.c[column]).where(t.models.c.model_id == model_id, last_touched <= position).scalar_subquery()


def _derived(view: Table, position: Any) -> dict[str, Any]:
    """The stamped columns of ``view`` as of ``position``, as expressions over its twin."""
    twin = h.TWINS[view.name]
    if view is t.models:
        model_id = twin.c.model_id
        # coalesce evaluates the count only while the present value is NULL. The latest version needs no such
        # shortcut: the first valid entry from the top of the twin's (model, number, ...) index.
        return {"updated_at": _latest_stamp(position, model_id),
                "version_count": func.coalesce(_if_untouched_since("version_count", position, model_id),
                                               _version_count(position, model_id)),
                "latest_version": _latest_version(position, model_id)}
    if view is t.versions:
        return {"updated_at": _latest_stamp(position, twin.c.model_id, twin.c.number)}
    return {}


def table_at(view: Table, position: Any) -> Any:
    """``view`` as it was at ``position``: its columns, in its order, over the rows valid then."""
    twin, derived = h.TWINS[view.name], _derived(view, position)
    columns = [derived[c.name].label(c.name) if c.name in derived else twin.c[c.name] for c in view.columns]
    return select(*columns).where(*_valid(twin, position)).subquery(view.name + "_at")


def _model_total(position: Any) -> Any:
    counts = h.model_counts
    last = (select(counts.c.models).where(counts.c.position <= position).order_by(counts.c.position.desc()).limit(1)
            .scalar_subquery())
    return select(func.coalesce(last, 0))


#: Every read-model table as it was at the position :func:`views_at` sets.
PAST = Views(
    table_at(t.models, POSITION), table_at(t.versions, POSITION), table_at(t.aliases, POSITION),
    table_at(t.artifact_links, POSITION), table_at(t.run_links, POSITION), table_at(t.runs, POSITION),
    table_at(t.step_runs, POSITION), table_at(t.artifacts, POSITION), _model_total(POSITION))


@contextmanager
def views_at(position: int) -> Iterator[Views]:
    """Every read-model table as it was at ``position``, for statements executed inside the block."""
    token = _AS_OF.set(position)
    try:
        yield PAST
    finally:
        _AS_OF.reset(token)


_MODEL_ID_AT = select(h.models.c.model_id).where(h.models.c.name_key == bindparam("name_key"),
                                                 *_valid(h.models, POSITION))


def model_id_at(conn: Connection, name_key: str) -> str | None:
    """The id of the model named ``name_key`` (normalised) at the position :func:`views_at` set, or None."""
    found = conn.execute(_MODEL_ID_AT, {"name_key": name_key}).first()
    return None if found is None else str(found.model_id)


__all__ = ["PRESENT", "Views", "model_id_at", "table_at", "views_at"]
