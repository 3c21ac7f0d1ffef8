"""The read-model tables as they were at a log position, built from their history twins.

:func:`views_at` gives, for a position P, one selectable per view table with exactly the view
table's columns in its column order: the twin's rows valid at P (``valid_from <= P < valid_to``),
and the stamped columns derived from ``hist_stamps`` and the version twin. The queries of
:mod:`projections.queries` run unchanged over either the present tables (:data:`PRESENT`) or these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelog.projections import tables as t
from modelog.projections import temporal as h
from sqlalchemy import Table, func, select
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


PRESENT = Views(t.models, t.versions, t.aliases, t.artifact_links, t.run_links, t.runs, t.step_runs, t.artifacts)


def _valid(twin: Any, position: int) -> list[Any]:
    return [twin.c.valid_from <= position, twin.c.valid_to > position]


def _latest_stamp(position: int, model_id: Any, number: Any = None) -> Any:
    s = h.stamps
    where = [s.c.model_id == model_id, s.c.position <= position]
    if number is not None:
        where.append(s.c.number == number)
    return select(s.c.updated_at).where(*where).order_by(s.c.position.desc()).limit(1).scalar_subquery()


def _versions_of(position: int, model_id: Any, what: Any) -> Any:
    v = h.versions.alias("counted")
    return select(what(v)).where(v.c.model_id == model_id, *_valid(v, position)).scalar_subquery()


def _derived(view: Table, position: int) -> dict[str, Any]:
    """The stamped columns of ``view`` as of ``position``, as expressions over its twin."""
    twin = h.TWINS[view.name]
    if view is t.models:
        model_id = twin.c.model_id
        return {"updated_at": _latest_stamp(position, model_id),
                "version_count": _versions_of(position, model_id, lambda v: func.count()),
                "latest_version": _versions_of(position, model_id, lambda v: func.max(v.c.number))}
    if view is t.versions:
        return {"updated_at": _latest_stamp(position, twin.c.model_id, twin.c.number)}
    return {}


def table_at(view: Table, position: int) -> Any:
    """``view`` as it was at ``position``: its columns, in its order, over the rows valid then."""
    twin, derived = h.TWINS[view.name], _derived(view, position)
    columns = [derived[c.name].label(c.name) if c.name in derived else twin.c[c.name] for c in view.columns]
    return select(*columns).where(*_valid(twin, position)).subquery(view.name + "_at")


def views_at(position: int) -> Views:
    """Every read-model table as it was at ``position``."""
    return Views(*(table_at(view, position) for view in (
        t.models, t.versions, t.aliases, t.artifact_links, t.run_links, t.runs, t.step_runs, t.artifacts)))


def model_id_at(conn: Connection, name_key: str, position: int) -> str | None:
    """The id of the model named ``name_key`` (normalised) at ``position``, or None."""
    m = h.models
    found = conn.execute(select(m.c.model_id).where(m.c.name_key == name_key, *_valid(m, position))).first()
    return None if found is None else str(found.model_id)


__all__ = ["PRESENT", "Views", "model_id_at", "table_at", "views_at"]
