"""The statements of the model list and of the one-model reads, built once per table set.

Each statement is built over a :class:`~modelog.projections.temporal_reads.Views` (the present tables or
their history at the position ``views_at`` sets) with its values as bound parameters, and kept: building
a statement over a past selectable and computing its cache key cost more than the SQL of a short read,
and a kept statement's cache key is computed once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from modelog.projections.temporal_reads import PRESENT, Views
from modelog.registry.selectors import SelectorKind
from sqlalchemy import Integer, bindparam, func, select

#: How a model listing sorts: the option's name and the column.
SORT_FIELDS = {"name": "name_key", "created": "created_at", "updated": "updated_at"}

_MODEL_PAGES: dict[tuple[int, str, bool, bool, bool], tuple[Any, Any]] = {}


def model_page_statements(tb: Views, sort_by: str, by_name: bool, by_tag: bool,
                          postgres: bool = False) -> tuple[Any, Any]:
    """The count and the page query of a model listing over ``tb``, built once per shape.

    Filters, page size and offset are bound parameters, so each statement is built (and its
    cache key computed) once, not per read. ``postgres``: the shape for PostgreSQL (below).
    """
    key = (id(tb), sort_by, by_name, by_tag, postgres)
    found = _MODEL_PAGES.get(key)
    if found is None:
        m = tb.models
        where = []
        if by_name:
            where.append(m.c.name_key.like(bindparam("name_pattern"), escape="\\"))
        if by_tag:
            where.append(m.c.tags.like(bindparam("tag_pattern"), escape="\\"))
        counted = select(func.count()).select_from(m).where(*where) if where else tb.model_total
        order = (m.c[SORT_FIELDS[sort_by]], m.c.model_id)
        size, offset = bindparam("page_size", type_=Integer), bindparam("page_offset", type_=Integer)
        if tb is PRESENT or postgres:
            # PostgreSQL derives a past page's stamped columns (subplans) for the rows the LIMIT keeps only
            # (it evaluates them above the sort, or stops the ordered index scan after the page), and a
            # statement psycopg prepared is planned for any position: the page's keys first made that plan
            # join them back by a hash over every model row valid then (twice the server time of this shape).
            query = select(m).where(*where).order_by(*order).limit(size).offset(offset)
        else:  # SQLite: pick the page's keys first, so the stamped columns are derived for its rows only
            keys = select(m.c.model_id).where(*where).order_by(*order).limit(size).offset(offset)
            query = select(m).where(m.c.model_id.in_(keys.scalar_subquery())).order_by(*order)
        found = _MODEL_PAGES[key] = (counted, query)
    return found


_MODELS_BY_ID: dict[int, Any] = {}


def model_by_id(tb: Views) -> Any:
    """The model row with the id bound as ``model_id``, over ``tb`` (built once: a read of one model is short)."""
    found = _MODELS_BY_ID.get(id(tb))
    if found is None:
        found = _MODELS_BY_ID[id(tb)] = select(tb.models).where(tb.models.c.model_id == bindparam("model_id"))
    return found


_BUILT: dict[tuple[int, str], Any] = {}


def built(tb: Views, name: str, build: Callable[[Views], Any]) -> Any:
    """The statement ``build`` makes over ``tb``, built once per ``name``: values are bound parameters, so a
    read neither rebuilds it nor recomputes its cache key (the larger part of a short read's cost)."""
    key = (id(tb), name)
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = build(tb)
    return found


_MODEL_ID: Any = bindparam("model_id")


def model_exists(tb: Views) -> Any:
    """The model's id if the model with the id bound as ``model_id`` is in ``tb``."""
    return select(tb.models.c.model_id).where(tb.models.c.model_id == _MODEL_ID)


def model_name(tb: Views) -> Any:
    """The name of the model with the id bound as ``model_id``."""
    return select(tb.models.c.name).where(tb.models.c.model_id == _MODEL_ID)


def version_by(tb: Views, kind: SelectorKind) -> Any:
    """A model's version a selector of ``kind`` names (its value bound as ``selected``); the highest if several."""
    v, selected = tb.versions, cast(Any, bindparam("selected"))
    query = v.select().where(v.c.model_id == _MODEL_ID)
    if kind is SelectorKind.NUMBER:
        query = query.where(v.c.number == selected)
    elif kind is SelectorKind.NAME:
        query = query.where(v.c.name_key == selected)
    elif kind is SelectorKind.STAGE:
        query = query.where(v.c.stage == selected)
    elif kind is SelectorKind.ALIAS:
        alias = select(tb.aliases.c.number).where(tb.aliases.c.model_id == _MODEL_ID, tb.aliases.c.alias == selected)
        query = query.where(v.c.number == alias.scalar_subquery())
    return query.order_by(v.c.number.desc()).limit(1)


def link_counts(tb: Views, some: bool) -> Any:
    """Artifact links per version number and kind of a model (``some``: of the bound ``numbers`` only)."""
    link = tb.artifact_links
    query = select(link.c.number, link.c.kind, func.count()).where(link.c.model_id == _MODEL_ID)
    if some:
        query = query.where(link.c.number.in_(bindparam("numbers", expanding=True)))
    return query.group_by(link.c.number, link.c.kind)


def run_counts(tb: Views, some: bool) -> Any:
    """Run links per version number of a model (``some``: of the bound ``numbers`` only)."""
    link = tb.run_links
    query = select(link.c.number, func.count()).where(link.c.model_id == _MODEL_ID)
    if some:
        query = query.where(link.c.number.in_(bindparam("numbers", expanding=True)))
    return query.group_by(link.c.number)


def aliases_of(tb: Views) -> Any:
    """A model's aliases with their version numbers, by alias."""
    a = tb.aliases
    return select(a.c.number, a.c.alias).where(a.c.model_id == _MODEL_ID).order_by(a.c.alias)
