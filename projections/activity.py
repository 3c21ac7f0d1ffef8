"""A model's activity read in SQL: its history a page at a time, and its stage timeline from the version twin.

Both reads cost what they show, not what the model has lived through: the history page is a
``LIMIT``/``OFFSET`` over the model's stream (newest first, filters by actor and event kind in the
``WHERE``, the filters' choices by ``DISTINCT``), and the timeline's lanes are the rows of
``hist_versions`` (each row is a segment of a version's life between two log positions), with only
the events at the segments' ends and the alias rows' ends read and described (for who, when, what).
At a past position P everything is clipped at P: history up to P, segments open at P still open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelog.projections import temporal as h
from modelog.projections.history import HistoryEntry, describe
from modelog.registry.database import transaction
from modelog.registry.errors import InvalidInputError
from modelog.registry.schema import events
from modelog.registry.sealing import row_to_event
from modelog.registry.vocabulary import EventType, model_stream
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from modelog.projections.queries import ReadModel

#: Largest ``IN`` list of one statement (well under SQLite's and PostgreSQL's parameter limits).
_CHUNK = 500
#: The events a lane marks (the rest of a version's life is in its spans).
_ALIAS_EVENTS = frozenset({EventType.MODEL_VERSION_ALIAS_SET, EventType.MODEL_VERSION_ALIAS_REMOVED})


@dataclass(frozen=True)
class HistoryPage:
    """One page of a model's history, newest first, with the actors and event kinds it can be filtered by."""

    entries: tuple[HistoryEntry, ...]
    total: int
    page: int
    size: int
    actors: tuple[str, ...]
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class StageSpan:
    """A version in one stage from log position ``start`` until ``end`` (None: still at the moment shown)."""

    stage: str
    start: int
    end: int | None
    recorded_at: str
    actor: str | None


@dataclass(frozen=True)
class TimelineMarker:
    """Something that happened to a version at one event: a promotion, an alias move or a deletion."""

    kind: str  # stage, alias, deleted
    position: int
    recorded_at: str
    actor: str | None
    summary: str


@dataclass(frozen=True)
class Lane:
    """One version's life: its stage spans and markers, and whether it was deleted."""

    number: int
    spans: tuple[StageSpan, ...]
    markers: tuple[TimelineMarker, ...]
    deleted: bool


@dataclass(frozen=True)
class Timeline:
    """Versions of a model over its history, x being the log position from ``first`` to ``last`` (its events)."""

    first: int
    last: int
    lanes: tuple[Lane, ...]
    first_at: str | None
    last_at: str | None


def number_of(entry: HistoryEntry) -> int | None:
    """The version number an entry is about, or None."""
    value = entry.data.get("number")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _actor(conn: Connection) -> Any:
    """The actor of an event (in its JSON ``meta`` text), as an SQL expression of the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return func.cast(events.c.meta, JSONB)["actor"].astext
    return func.json_extract(events.c.meta, "$.actor")


def _stream(model_id: str, position: int | None) -> list[Any]:
    where = [events.c.stream_id == model_stream(model_id)]
    if position is not None:
        where.append(events.c.position <= position)
    return where


def history_page(conn: Connection, model_id: str, position: int | None, *, actor: str | None = None,
                 kind: str | None = None, page: int = 1, size: int = 100) -> HistoryPage:
    """A page of the model's stream up to ``position`` (None: all), newest first, filtered by actor and kind."""
    who = _actor(conn)
    base = _stream(model_id, position)
    where = list(base)
    if kind is not None:
        where.append(events.c.event_type == kind)
    if actor is not None:
        where.append(who == actor)
    total = conn.execute(select(func.count()).select_from(events).where(*where)).scalar_one()
    rows = conn.execute(select(*events.columns).where(*where).order_by(events.c.stream_version.desc())
                        .limit(size).offset((page - 1) * size)).all()
    pairs = conn.execute(select(who, events.c.event_type).where(*base).distinct()).all()  # one pass for both
    actors = {str(a) for a, _ in pairs if a is not None}
    kinds = {str(k) for _, k in pairs}
    return HistoryPage(tuple(describe(row_to_event(row), model_id) for row in rows), int(total), page, size,
                       tuple(sorted(actors)), tuple(sorted(kinds)))


def _described(conn: Connection, model_id: str, positions: Iterable[int]) -> dict[int, HistoryEntry]:
    """The model's events at ``positions``, described."""
    wanted, found = sorted(set(positions)), {}
    stream = model_stream(model_id)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for row in conn.execute(select(*events.columns).where(events.c.position.in_(chunk),
                                                               events.c.stream_id == stream)):
            entry = describe(row_to_event(row), model_id)
            found[entry.position] = entry
    return found


def _ends(conn: Connection, model_id: str, position: int | None) -> tuple[int, int, str | None, str | None]:
    """The first and last positions of the model's stream up to ``position``, and when they were recorded."""
    low, high = conn.execute(select(func.min(events.c.position), func.max(events.c.position))
                             .where(*_stream(model_id, position))).one()
    if low is None:
        return 0, 0, None, None
    times = {int(p): str(at) for p, at in conn.execute(select(events.c.position, events.c.recorded_at)
                                                       .where(events.c.position.in_([low, high])))}
    return int(low), int(high), times[low], times[high]


def _lane(number: int, rows: Sequence[Any], aliases: Sequence[Any], at: dict[int, HistoryEntry],
          position: int | None) -> Lane:
    """One version's lane from its twin rows (in ``valid_from`` order) and its alias rows."""
    spans: list[StageSpan] = []
    markers: list[tuple[int, HistoryEntry, str]] = []
    deleted = False
    for row in rows:
        entry = at.get(row.valid_from)
        if entry is None:
            continue
        if entry.event_type == EventType.MODEL_VERSION_CREATED and number_of(entry) == number:
            spans.append(StageSpan("none", entry.position, None, entry.recorded_at, entry.actor))
        elif (entry.event_type == EventType.MODEL_VERSION_STAGE_CHANGED and number_of(entry) == number
              and spans):
            spans[-1] = StageSpan(spans[-1].stage, spans[-1].start, entry.position, spans[-1].recorded_at,
                                  spans[-1].actor)
            spans.append(StageSpan(str(entry.data.get("to_stage")), entry.position, None, entry.recorded_at,
                                   entry.actor))
            markers.append((entry.position, entry, "stage"))
    end = rows[-1].valid_to if rows else None
    gone = at.get(end) if end is not None and (position is None or end <= position) else None
    if gone is not None and gone.event_type == EventType.MODEL_VERSION_DELETED and number_of(gone) == number \
            and spans:
        spans[-1] = StageSpan(spans[-1].stage, spans[-1].start, gone.position, spans[-1].recorded_at,
                              spans[-1].actor)
        deleted = True
        markers.append((gone.position, gone, "deleted"))
    for row in aliases:
        for edge in (row.valid_from, row.valid_to):
            entry = at.get(edge)
            if entry is not None and entry.event_type in _ALIAS_EVENTS and number_of(entry) == number:
                markers.append((entry.position, entry, "alias"))
    unique = {(p, kind): entry for p, entry, kind in markers}
    return Lane(number, tuple(spans), tuple(TimelineMarker(kind, p, e.recorded_at, e.actor, e.summary)
                                            for (p, kind), e in sorted(unique.items())), deleted)


def stage_timeline(conn: Connection, model_id: str, position: int | None, *, low: int | None = None,
                   high: int | None = None) -> Timeline:
    """The model's stage timeline up to ``position`` (None: now): one lane per version ever created, in number
    order (only numbers from ``low`` to ``high`` when given), from ``hist_versions`` and ``hist_aliases``."""
    v, a = h.versions, h.aliases
    where_v, where_a = [v.c.model_id == model_id], [a.c.model_id == model_id]
    if position is not None:
        where_v.append(v.c.valid_from <= position)
        where_a.append(a.c.valid_from <= position)
    if low is not None:
        where_v.append(v.c.number >= low)
        where_a.append(a.c.number >= low)
    if high is not None:
        where_v.append(v.c.number <= high)
        where_a.append(a.c.number <= high)
    rows = conn.execute(select(v.c.number, v.c.valid_from, v.c.valid_to).where(*where_v)
                        .order_by(v.c.number, v.c.valid_from)).all()
    alias_rows = conn.execute(select(a.c.number, a.c.valid_from, a.c.valid_to).where(*where_a)).all()
    limit = h.OPEN if position is None else position
    edges = [r.valid_from for r in rows] + [r.valid_to for r in rows if r.valid_to <= limit]
    edges += [p for r in alias_rows for p in (r.valid_from, r.valid_to) if p <= limit]
    at = _described(conn, model_id, edges)
    by_number: dict[int, list[Any]] = {}
    for row in rows:
        by_number.setdefault(row.number, []).append(row)
    aliases: dict[int, list[Any]] = {}
    for row in alias_rows:
        aliases.setdefault(row.number, []).append(row)
    lanes = tuple(lane for n in sorted(by_number)
                  for lane in [_lane(n, by_number[n], aliases.get(n, []), at, position)] if lane.spans)
    first, last, first_at, last_at = _ends(conn, model_id, position)
    return Timeline(first, last, lanes, first_at, last_at)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_history_page(reads: ReadModel, model: str, position: int | None, *, actor: str | None = None,
                      kind: str | None = None, page: int = 1, size: int = 100) -> HistoryPage:
    """A page of the history of the model named ``model`` at ``position`` (None: live), newest first."""
    if not (_whole(page) and _whole(size)) or page < 1 or size < 1 or size > 1000 or page > 2**31 - 1:
        raise InvalidInputError(f"page must be between 1 and {2**31 - 1} and size between 1 and 1000")
    for text, what in ((actor, "actor"), (kind, "event kind")):
        if text is not None and not isinstance(text, str):
            raise InvalidInputError(f"{what} must be text, got {type(text).__name__}")
    model_id = reads.get_model(model, at_position=position).id
    with transaction(reads.engine) as conn:
        return history_page(conn, model_id, position, actor=actor, kind=kind, page=page, size=size)


def read_stage_timeline(reads: ReadModel, model: str, position: int | None, *, low: int | None = None,
                        high: int | None = None) -> Timeline:
    """The stage timeline of the model named ``model`` at ``position`` (None: live), versions ``low``..``high``."""
    if any(bound is not None and not _whole(bound) for bound in (low, high)):
        raise InvalidInputError("version bounds must be whole numbers")
    model_id = reads.get_model(model, at_position=position).id
    with transaction(reads.engine) as conn:
        return stage_timeline(conn, model_id, position, low=low, high=high)
