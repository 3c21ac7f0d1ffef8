"""Queries over the read models, live or at any past point of the log.

A point-in-time query replays exactly the events up to that point into a scratch,
in-memory copy of the read-model tables (through the same projector), then runs the
same SQL as a live query. A query about one model replays only that model's stream
(and the streams of the runs linked to it). Queries never load aggregates and never
write to the registry.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Concatenate, ParamSpec, TypeVar

from modelog.projections import read_statements as rs
from modelog.projections import tables as t
from modelog.projections.boundaries import boundary_in_log, command_boundary
from modelog.projections.handlers import tables_needed
from modelog.projections.history import HistoryEntry, describe, name_after
from modelog.projections.identity import PrincipalView, TokenView, principal_views, token_views
from modelog.projections.log_rows import linked_run_ids, model_renames, stream_events
from modelog.projections.projector import apply_events
from modelog.projections.read_statements import SORT_FIELDS
from modelog.projections.suggest import did_you_mean
from modelog.projections.table_rows import TableRows
from modelog.projections.temporal_reads import PRESENT, Views, model_id_at, views_at
from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView, StepView, VersionView
from modelog.registry._sql.batches import read_batches
from modelog.registry._sql.bulk import cyclic_gc_paused
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry.database import transaction
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.selectors import SelectorKind, VersionSelector, parse_selector
from modelog.registry.store import EventStore, StoredEvent
from modelog.registry.validation import name_key, skeleton
from modelog.registry.values import ARTIFACT_KIND_NAMES, ArtifactKind, RunStatus, parse_stage
from modelog.registry.vocabulary import (
    ARTIFACT_PREFIX,
    MODEL_PREFIX,
    MODEL_TEXT_FIELDS,
    PRINCIPAL_PREFIX,
    RUN_PREFIX,
    TOKEN_PREFIX,
    EventType,
    artifact_stream,
    model_stream,
    name_stream,
    run_stream,
)
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateTable

#: The last page a listing can ask for (its offset fits a 64-bit column on every backend).
MAX_PAGE = 2**31 - 1
_KINDS = frozenset(kind.value for kind in ArtifactKind)
CLOCK_SKEW = timedelta(seconds=5)
#: The table a model query reads: a past read of one model replays only its rows.
MODEL_TABLES = frozenset({t.models.name})
#: The same for the past model list, which replays in batches: a version deletion in a later batch
#: reads version rows of earlier ones (``handlers.READS``), so those are kept from the start.
MODEL_LIST_TABLES = frozenset({t.models.name, t.versions.name})


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_READ: ContextVar[Connection | None] = ContextVar("modelog_read_transaction", default=None)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_transaction(method: Callable[Concatenate[ReadModel, _P], _R]) -> Callable[Concatenate[ReadModel, _P], _R]:
    """Run a read, point resolution included, in one transaction (``_live`` hands it out).

    A past read resolved its point in a transaction of its own before: a fixed cost as large as a short
    read itself, and two snapshots where one is right.
    """
    @functools.wraps(method)
    def read(self: ReadModel, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if _READ.get() is not None:
            return method(self, *args, **kwargs)
        with transaction(self.engine) as conn:
            token = _READ.set(conn)
            try:
                return method(self, *args, **kwargs)
            finally:
                _READ.reset(token)
    return read


class ReadModel:
    """Every read the CLI and SDK make, each answerable live or ``as_of`` / ``at_position``."""

    def __init__(self, engine: Engine, store: EventStore, *, temporal: bool = True) -> None:
        """``temporal=False`` answers past reads by replaying the log (the reference the history twins are
        checked against) instead of reading the history twins."""
        self.engine, self.store, self.temporal = engine, store, temporal
        self._scratch: Engine | None = None
        self._scratch_lock = threading.Lock()

    # --- points in time ------------------------------------------------------------

    def resolve_point(self, as_of: datetime | None = None, at_position: int | None = None, *,
                      whole_commands: bool = True) -> int | None:
        """The log position a read refers to (None = live).

        A position inside one command's events resolves down to the end of the command before it
        (``projections.boundaries``), unless ``whole_commands`` is false (the log's own listing).
        """
        if as_of is not None and at_position is not None:
            raise InvalidInputError("give either as_of or at_position, not both")
        if at_position is None and as_of is None:
            return None
        with self._live() as conn:  # the read's own transaction when inside one (``_one_transaction``)
            if at_position is not None:
                if isinstance(at_position, bool) or not isinstance(at_position, int) or at_position < 0:
                    raise InvalidInputError(f"log position must be a whole number >= 0, got {at_position!r}")
                if not whole_commands:
                    return self._check_position(at_position, conn)
                found = boundary_in_log(self.store, at_position, conn)  # its statement also tells a position
                if found is not None:  # past the log's end: no separate read of the head
                    return found
                # Past the end (refused), unless an append committed in between (PostgreSQL's read committed).
                return command_boundary(self.store, self._check_position(at_position, conn), conn)
            return self._position_of(as_of, conn)  # type: ignore[arg-type]  # not None: checked above

    def _check_position(self, position: int, conn: Connection) -> int:
        head = self.store.head(conn)
        if position > head:
            raise InvalidInputError(f"log position {position} is beyond the end of the log (last position {head})")
        return position

    def _position_of(self, as_of: datetime, conn: Connection) -> int:
        try:  # the edges of the calendar: 0001-01-01 in a zone east of UTC is before year 1
            moment = (as_of if as_of.tzinfo else as_of.astimezone()).astimezone(UTC)
        except (OverflowError, ValueError):
            raise InvalidInputError(f"as-of time {as_of.isoformat()} is outside the calendar this registry can "
                                    "compare (years 1 to 9999 in UTC)") from None
        if moment > datetime.now(UTC) + CLOCK_SKEW:
            raise InvalidInputError(f"as-of time {moment.isoformat()} is in the future")
        return self.store.position_at(moment, conn)

    @contextmanager
    def _live(self) -> Iterator[Connection]:
        """A transaction on the registry: the read's own if one is open (``_one_transaction``), else a new one."""
        open_read = _READ.get()
        if open_read is not None:
            yield open_read
            return
        with transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def _replayed(self, batches: Iterator[list[StoredEvent]] | Iterator[list[RowEvent]],
                  only: frozenset[str] | None = None) -> Iterator[Connection]:
        with self._scratch_lock:
            engine = self._scratch_engine()
            with engine.begin() as conn:
                for table in t.VIEW_TABLES:
                    conn.execute(table.delete())
                with cyclic_gc_paused():
                    for batch in batches:
                        if batch:
                            apply_events(conn, batch, only, history=False)
                yield conn

    def _scratch_engine(self) -> Engine:
        if self._scratch is None:
            self._scratch = create_engine("sqlite://", poolclass=StaticPool,
                                          connect_args={"check_same_thread": False})
            with self._scratch.begin() as conn:
                for table in t.VIEW_TABLES:  # no secondary indexes: a replay inserts every row, a read scans few
                    conn.execute(CreateTable(table))
        return self._scratch

    def close(self) -> None:
        """Release the scratch in-memory database past reads replay into (it is recreated if needed)."""
        with self._scratch_lock:
            if self._scratch is not None:
                self._scratch.dispose()
                self._scratch = None

    def _log_batches(self, prefix: str, position: int) -> Iterator[list[RowEvent]]:
        """Every event of the streams starting with ``prefix`` up to ``position``, in batches, read raw."""
        with transaction(self.engine) as conn:
            yield from read_batches(conn, until=position, prefix=prefix)

    @contextmanager
    def _model_reader(self, model: str, position: int | None,
                      only: frozenset[str] | None = None) -> Iterator[tuple[Connection, str, Views]]:
        """A connection and tables that see ``model`` as it was at ``position`` (live when None), and its id.

        ``only`` names the tables the caller's query reads; a replay skips the rows of the others.
        """
        if position is None:
            with self._live() as conn:
                yield conn, self._live_model_id(conn, model), PRESENT
            return
        if self.temporal:
            with self._live() as conn, views_at(position) as past:
                found = model_id_at(conn, name_key(model))
                if found is None:
                    raise NotFoundError(f"model {model!r} did not exist at log position {position}")
                yield conn, found, past
            return
        model_id = self._model_id_at(model, position)
        stream, runs = self._model_events(model_id, position)
        kept = None if only is None else tables_needed(only, stream)
        in_order = sorted([*stream, *runs], key=lambda e: e.position)  # a rename renames the runs started before it
        with self._replayed(iter([in_order]), kept) as conn:
            yield conn, model_id, PRESENT

    def _model_events(self, model_id: str, position: int) -> tuple[list[RowEvent], list[RowEvent]]:
        """The model's stream up to ``position``, and the events of its linked runs in log order."""
        with transaction(self.engine) as conn:  # one snapshot for the model's stream and its runs'
            stream = stream_events(self.store, model_stream(model_id), position, conn)
            found = [e for r in linked_run_ids(stream)
                     for e in stream_events(self.store, run_stream(r), position, conn)]
        return stream, sorted(found, key=lambda e: e.position)

    def _renames(self, position: int) -> list[RowEvent]:
        """Every model's renames up to ``position``: replayed after runs alone, they give each run its model's name
        then (a run shows the name its model has, and the last rename up to ``position`` decides it)."""
        with transaction(self.engine) as conn:
            return model_renames(conn, position)

    def _linked_run_events(self, stream: list[StoredEvent], position: int | None) -> list[StoredEvent]:
        """The events of every run linked in ``stream``, each read through the stream index, in log order."""
        found = [e for r in linked_run_ids(stream) for e in self.store.read_stream(run_stream(r), to_position=position)]
        return sorted(found, key=lambda e: e.position)

    # --- model lookups -------------------------------------------------------------

    def _live_model_id(self, conn: Connection, name: str) -> str:
        found = conn.execute(select(t.models.c.model_id).where(t.models.c.name_key == name_key(name))).first()
        if found is None:
            names = conn.execute(select(t.models.c.name)).scalars().all()
            hint = did_you_mean(name, names)
            raise NotFoundError(f"model {name!r} does not exist;{hint or ' ' + self._known_models(conn)}")
        return str(found.model_id)

    def look_alike_of(self, name: str, ignoring: str | None = None) -> str | None:
        """The live model whose name looks like ``name`` (equal TR39 skeletons) but is another name, or None;
        the model named ``ignoring`` (one being renamed) is not looked at."""
        key, look = name_key(name), skeleton(name)
        skipped = {key} if ignoring is None else {key, name_key(ignoring)}
        with self._live() as conn:
            if conn.execute(select(t.models.c.model_id).where(t.models.c.name_key == key)).first() is not None:
                return None  # the model exists: nothing is registered (a pipeline's run of an existing model)
            for other, other_key in conn.execute(select(t.models.c.name, t.models.c.name_key)):
                if other_key not in skipped and skeleton(other) == look:
                    return str(other)
        return None

    def _known_models(self, conn: Connection) -> str:
        names = conn.execute(select(t.models.c.name).order_by(t.models.c.name_key).limit(11)).scalars().all()
        if not names:
            return "there are no models"
        return "models: " + ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")

    def _claims(self, name: str, position: int | None) -> list[StoredEvent]:
        return self.store.read_stream(name_stream(name), to_position=position)

    def _model_id_at(self, name: str, position: int) -> str:
        claims = self._claims(name, position)
        if not claims or claims[-1].event_type != EventType.MODEL_NAME_CLAIMED:
            raise NotFoundError(f"model {name!r} did not exist at log position {position}")
        return str(claims[-1].data["model_id"])

    # --- models --------------------------------------------------------------------

    @_one_transaction
    def list_models(
        self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name", page: int = 1,
        size: int = 50, as_of: datetime | None = None, at_position: int | None = None,
    ) -> Page[ModelView]:
        """A page of live models (optionally filtered by name substring and tag), sorted."""
        if sort_by not in SORT_FIELDS:
            raise InvalidInputError(f"cannot sort by {sort_by!r}; choose one of {', '.join(SORT_FIELDS)}")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (page, size)) \
                or page < 1 or size < 1 or size > 10_000 or page > MAX_PAGE:
            raise InvalidInputError(f"page must be between 1 and {MAX_PAGE} and size between 1 and 10000")
        position = self.resolve_point(as_of, at_position)
        with self._all_reader(position, lambda p: self._log_batches(MODEL_PREFIX, p), MODEL_LIST_TABLES) as (
                conn, tb):
            return self._model_page(conn, tb, name, tag, sort_by, page, size)

    def _model_page(self, conn: Connection, tb: Views, name: str | None, tag: str | None, sort_by: str, page: int,
                    size: int) -> Page[ModelView]:
        counted, query = rs.model_page_statements(tb, sort_by, bool(name), bool(tag), conn.dialect.name == "postgresql")
        params: dict[str, Any] = {"page_size": size, "page_offset": (page - 1) * size}
        if name:
            params["name_pattern"] = f"%{_like_escape(name_key(name))}%"
        if tag:
            params["tag_pattern"] = f"%{_like_escape(json.dumps(tag, ensure_ascii=False))}%"
        total = conn.execute(counted, params).scalar_one()
        return Page([_model_view(row) for row in conn.execute(query, params)], int(total), page, size)

    @_one_transaction
    def get_model(self, name: str, *, as_of: datetime | None = None, at_position: int | None = None) -> ModelView:
        """One model by name."""
        position = self.resolve_point(as_of, at_position)
        with self._model_reader(name, position, MODEL_TABLES) as (conn, model_id, tb):
            row = conn.execute(rs.model_by_id(tb), {"model_id": model_id}).first()
            if row is None:
                raise NotFoundError(f"model {name!r} did not exist at log position {position}")
            return _model_view(row)

    # --- versions ------------------------------------------------------------------

    @_one_transaction
    def list_versions(self, model: str, *, stage: str | None = None, as_of: datetime | None = None,
                      at_position: int | None = None) -> list[VersionView]:
        """Every live version of a model by number (optionally only those in ``stage``)."""
        position = self.resolve_point(as_of, at_position)
        with self._model_reader(model, position) as (conn, model_id, tb):
            self._require_model(conn, tb, model, model_id, position)
            where = [tb.versions.c.model_id == model_id]
            if stage is not None:
                where.append(tb.versions.c.stage == parse_stage(stage).value)
            rows = conn.execute(tb.versions.select().where(*where).order_by(tb.versions.c.number)).all()
            return self._version_views(conn, tb, model_id, rows)

    @_one_transaction
    def get_version(self, model: str, version: Any = None, *, as_of: datetime | None = None,
                    at_position: int | None = None) -> VersionView:
        """The version a selector (number, name, stage, ``latest``, ``@alias``) names."""
        selector = parse_selector(version)
        position = self.resolve_point(as_of, at_position)
        with self._model_reader(model, position) as (conn, model_id, tb):
            self._require_model(conn, tb, model, model_id, position)
            row = self._find_version(conn, tb, model, model_id, selector)
            return self._version_views(conn, tb, model_id, [row])[0]

    def _require_model(self, conn: Connection, tb: Views, model: str, model_id: str, position: int | None) -> None:
        if conn.execute(rs.built(tb, "model_exists", rs.model_exists), {"model_id": model_id}).first() is None:
            raise NotFoundError(f"model {model!r} did not exist at log position {position}")

    def _find_version(self, conn: Connection, tb: Views, model: str, model_id: str,
                      selector: VersionSelector) -> Any:
        value = name_key(str(selector.value)) if selector.kind is SelectorKind.NAME else selector.value
        query = rs.built(tb, "version_by_" + selector.kind.name, lambda tb: rs.version_by(tb, selector.kind))
        row = conn.execute(query, {"model_id": model_id, "selected": value}).first()
        if row is None:
            if selector.kind is SelectorKind.LATEST:
                raise NotFoundError(f"model {model!r} has no versions")
            known = self._known_versions(conn, tb, model_id)
            raise NotFoundError(f"model {model!r} has no {selector.describe()}; {known}")
        return row

    def _known_versions(self, conn: Connection, tb: Views, model_id: str) -> str:
        v = tb.versions
        rows = conn.execute(select(v.c.number, v.c.name).where(v.c.model_id == model_id)
                            .order_by(v.c.number.desc()).limit(10)).all()
        if not rows:
            return "it has no versions"
        labels = [str(r.number) if r.name == str(r.number) else f"{r.number} ({r.name!r})" for r in reversed(rows)]
        return "existing versions: " + ", ".join(labels)

    def _version_views(self, conn: Connection, tb: Views, model_id: str, rows: Sequence[Any]) -> list[VersionView]:
        if not rows:
            return []
        numbers = [r.number for r in rows] if len(rows) <= 500 else None
        counts = self._link_counts(conn, tb, model_id, numbers)
        runs = self._run_counts(conn, tb, model_id, numbers)
        aliases = self._aliases(conn, tb, model_id)
        model_name = conn.execute(rs.built(tb, "model_name", rs.model_name), {"model_id": model_id}).scalar_one()
        return [_version_view(r, model_name, counts, runs, aliases) for r in rows]

    def _link_counts(self, conn: Connection, tb: Views, model_id: str,
                     numbers: list[int] | None) -> dict[tuple[int, str], int]:
        query = rs.built(tb, f"link_counts_{numbers is None}", lambda tb: rs.link_counts(tb, numbers is not None))
        return {(n, k): c for n, k, c in conn.execute(query, {"model_id": model_id, "numbers": numbers or []})}

    def _run_counts(self, conn: Connection, tb: Views, model_id: str, numbers: list[int] | None) -> dict[int, int]:
        query = rs.built(tb, f"run_counts_{numbers is None}", lambda tb: rs.run_counts(tb, numbers is not None))
        return dict(conn.execute(query, {"model_id": model_id, "numbers": numbers or []}).all())

    def _aliases(self, conn: Connection, tb: Views, model_id: str) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for number, alias in conn.execute(rs.built(tb, "aliases", rs.aliases_of), {"model_id": model_id}):
            found.setdefault(number, []).append(alias)
        return found

    # --- links and runs ------------------------------------------------------------

    @_one_transaction
    def list_links(self, model: str, version: Any = None, *, kind: str | None = None,
                   as_of: datetime | None = None, at_position: int | None = None) -> list[LinkView]:
        """Artifacts linked to a version (optionally one kind), in link order."""
        if kind is not None and kind not in _KINDS:
            raise InvalidInputError(f"unknown artifact kind {kind!r}; kinds are {ARTIFACT_KIND_NAMES}")
        selector = parse_selector(version)
        position = self.resolve_point(as_of, at_position)
        with self._model_reader(model, position) as (conn, model_id, tb):
            self._require_model(conn, tb, model, model_id, position)
            number = self._find_version(conn, tb, model, model_id, selector).number
            link = tb.artifact_links
            query = link.select().where(link.c.model_id == model_id, link.c.number == number)
            if kind is not None:
                query = query.where(link.c.kind == kind)
            return [_link_view(r) for r in conn.execute(query.order_by(link.c.position))]

    @_one_transaction
    def list_version_runs(self, model: str, version: Any = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> list[RunView]:
        """Runs linked to a version, in link order, with their status at that point."""
        selector = parse_selector(version)
        position = self.resolve_point(as_of, at_position)
        with self._model_reader(model, position) as (conn, model_id, tb):
            self._require_model(conn, tb, model, model_id, position)
            number = self._find_version(conn, tb, model, model_id, selector).number
            rl, r = tb.run_links, tb.runs
            query = (select(rl.c.run_id, rl.c.pipeline, rl.c.created_at.label("linked_at"), r)
                     .select_from(rl.outerjoin(r, r.c.run_id == rl.c.run_id))
                     .where(rl.c.model_id == model_id, rl.c.number == number).order_by(rl.c.position))
            return [_run_view(row) for row in conn.execute(query)]

    @contextmanager
    def _all_reader(self, position: int | None, batches: Callable[[int], Iterator[list[Any]]],
                    only: frozenset[str] | None = None) -> Iterator[tuple[Connection, Views]]:
        """The live tables; at a position their history twins, or (not ``temporal``) a replay of ``batches``."""
        if position is None:
            with self._live() as conn:
                yield conn, PRESENT
            return
        if self.temporal:
            with self._live() as conn, views_at(position) as past:
                yield conn, past
            return
        with self._replayed(batches(position), only) as conn:
            yield conn, PRESENT

    @contextmanager
    def _streams_reader(self, position: int | None, batches: Callable[[int], Iterator[list[Any]]]
                        ) -> Iterator[Connection]:
        """The live tables, or a replay of the events ``batches(position)`` yields: for the small read models
        kept without a history twin (principals and tokens, whose streams are few and short)."""
        if position is None:
            with self._live() as conn:
                yield conn
            return
        with self._replayed(batches(position)) as conn:
            yield conn

    @_one_transaction
    def get_run(self, run_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> RunView:
        """A run by id (a past point replays only that run's stream)."""
        _require_text(run_id, "run id")
        position = self.resolve_point(as_of, at_position)

        def one_run(p: int) -> Iterator[list[Any]]:
            yield self.store.read_stream(run_stream(run_id), to_position=p)
            yield self._renames(p)

        with self._all_reader(position, one_run) as (conn, tb):
            row = conn.execute(select(tb.runs, tb.runs.c.started_at.label("linked_at"))
                               .where(tb.runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"run {run_id!r} does not exist" + _at(position))
        return _run_view(row)

    @_one_transaction
    def list_runs(self, *, limit: int = 50, as_of: datetime | None = None, at_position: int | None = None,
                  pipeline: str | None = None, status: str | None = None) -> list[RunView]:
        """The most recent runs (optionally only one pipeline's, or only those with ``status``)."""
        position = self.resolve_point(as_of, at_position)
        all_runs = lambda p: chain(self._log_batches(RUN_PREFIX, p), [self._renames(p)])  # noqa: E731
        with self._all_reader(position, all_runs) as (conn, tb):
            r = tb.runs
            query = select(r, r.c.started_at.label("linked_at")).order_by(r.c.started_at.desc(), r.c.run_id)
            if pipeline is not None:
                query = query.where(r.c.pipeline == pipeline)
            if status is not None:
                query = query.where(r.c.status == status)
            return [_run_view(row) for row in conn.execute(query.limit(limit))]

    @_one_transaction
    def list_run_steps(self, run_id: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> list[StepView]:
        """The completed steps of a run in completion order (a past point replays only that run's stream)."""
        _require_text(run_id, "run id")
        position = self.resolve_point(as_of, at_position)
        one_run = lambda p: iter([self.store.read_stream(run_stream(run_id), to_position=p)])  # noqa: E731
        with self._all_reader(position, one_run) as (conn, tb):
            s = tb.step_runs
            rows = conn.execute(s.select().where(s.c.run_id == run_id).order_by(s.c.completed_at, s.c.step)).all()
        return [StepView(r.run_id, r.step, bool(r.cached), r.cache_key, float(r.duration_ms), r.completed_at,
                         tuple(json.loads(r.outputs))) for r in rows]

    @_one_transaction
    def get_artifact(self, artifact_id: str, *, as_of: datetime | None = None,
                     at_position: int | None = None) -> ArtifactView:
        """An artifact version by id (a past point replays only that artifact name's stream)."""
        _require_text(artifact_id, "artifact id")
        position = self.resolve_point(as_of, at_position)
        with self._live() as conn:
            name = conn.execute(select(t.artifacts.c.name).where(t.artifacts.c.artifact_id == artifact_id)).first()
        if name is None:
            raise NotFoundError(f"artifact {artifact_id!r} does not exist")
        stream = artifact_stream(name.name)
        one_name = lambda p: iter([self.store.read_stream(stream, to_position=p)])  # noqa: E731
        with self._all_reader(position, one_name) as (conn, tb):
            row = conn.execute(tb.artifacts.select().where(tb.artifacts.c.artifact_id == artifact_id)).first()
        if row is None:
            raise NotFoundError(f"artifact {artifact_id!r} does not exist" + _at(position))
        return ArtifactView(**{c: row._mapping[c] for c in ArtifactView.__dataclass_fields__})

    @_one_transaction
    def list_artifacts(self, *, as_of: datetime | None = None, at_position: int | None = None) -> list[ArtifactView]:
        """Every stored artifact version, by name and version."""
        position = self.resolve_point(as_of, at_position)
        everything = lambda p: self._log_batches(ARTIFACT_PREFIX, p)  # noqa: E731
        with self._all_reader(position, everything) as (conn, tb):
            a = tb.artifacts
            rows = conn.execute(a.select().order_by(a.c.name_key, a.c.version)).all()
        return [ArtifactView(**{c: r._mapping[c] for c in ArtifactView.__dataclass_fields__}) for r in rows]

    def list_principals(self, *, as_of: datetime | None = None,
                        at_position: int | None = None) -> list[PrincipalView]:
        """Every principal, by name (a past point replays the principal streams)."""
        position = self.resolve_point(as_of, at_position)
        with self._streams_reader(position, lambda p: self._log_batches(PRINCIPAL_PREFIX, p)) as conn:
            return principal_views(conn)

    def list_tokens(self, *, principal: str | None = None, as_of: datetime | None = None,
                    at_position: int | None = None) -> list[TokenView]:
        """Every API token issued (optionally to one principal), oldest first."""
        position = self.resolve_point(as_of, at_position)
        with self._streams_reader(position, lambda p: self._log_batches(TOKEN_PREFIX, p)) as conn:
            return token_views(conn, principal)

    def find_cached_step(self, cache_key: str) -> list[dict[str, Any]] | None:
        """Outputs of the latest successful run's step with this cache key, or None."""
        s, r = t.step_runs, t.runs
        query = (select(s.c.outputs).select_from(s.join(r, r.c.run_id == s.c.run_id))
                 .where(s.c.cache_key == cache_key, r.c.status == RunStatus.COMPLETED.value)
                 .order_by(s.c.completed_at.desc()).limit(1))
        with self._live() as conn:
            found = conn.execute(query).first()
        return None if found is None else list(json.loads(found.outputs))

    # --- history -------------------------------------------------------------------

    def history(self, model: str, *, as_of: datetime | None = None, at_position: int | None = None,
                include_runs: bool = False) -> list[HistoryEntry]:
        """The history of every model that has held the name ``model`` (deleted ones too), one after the other.

        Each model's events (optionally with its runs' events) are in log order, and the models come
        in the order they first held the name; each entry names its model (``model_id``). A model's
        whole history is shown under the name it goes by at the read's point: one renamed since then
        is left out here (it is found under its new name), one renamed to this name shows its events
        from before the rename too.
        """
        position = self.resolve_point(as_of, at_position)
        entries: list[HistoryEntry] = []
        renamed_to: list[str] = []
        for model_id in self._holders(model, position):
            stream = self.store.read_stream(model_stream(model_id), to_position=position)
            last = name_after(stream)
            if name_key(last) != name_key(model):  # renamed since: its history is found under its new name
                renamed_to.append(last)
                continue
            events = stream + self._linked_run_events(stream, position) if include_runs else stream
            entries += [describe(e, model_id) for e in sorted(events, key=lambda e: e.position)]
        if not entries:
            names = ", ".join(repr(n) for n in dict.fromkeys(renamed_to))
            raise NotFoundError(f"no model is named {model!r}{_at(position)}: the model that held the name was "
                                f"renamed (now {names}); see its history under that name")
        return entries

    def _holders(self, name: str, position: int | None) -> list[str]:
        """The ids of the models that held ``name`` up to ``position``, in the order they claimed it."""
        claimed = [str(e.data["model_id"]) for e in self._claims(name, position)
                   if e.event_type == EventType.MODEL_NAME_CLAIMED]
        if not claimed:
            raise NotFoundError(f"no model named {name!r} has ever existed{_at(position)}")
        return list(dict.fromkeys(claimed))


def _require_text(value: object, what: str) -> None:
    """Refuse an id of the wrong type (given through the SDK) before it reaches a query."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")


def _at(position: int | None) -> str:
    return "" if position is None else f" at log position {position}"


def _model_view(row: Any) -> ModelView:
    m = row._mapping
    return ModelView(
        id=m["model_id"], name=m["name"], **{field: m[field] for field in MODEL_TEXT_FIELDS},
        tags=tuple(json.loads(m["tags"])),
        latest_version=m["latest_version"], version_count=int(m["version_count"] or 0),
        created_at=m["created_at"], updated_at=m["updated_at"], created_by=m["created_by"],
    )


_VERSION_FIELDS = TableRows(t.versions).reader(
    "model_id", "number", "name", "description", "tags", "stage", "created_at", "updated_at", "created_by",
    "created_run_id")
_DATA, _MODEL, _DEPLOYMENT = ArtifactKind.DATA.value, ArtifactKind.MODEL.value, ArtifactKind.DEPLOYMENT.value


def _version_view(row: Any, model_name: str, counts: dict[tuple[int, str], int], runs: dict[int, int],
                  aliases: dict[int, list[str]]) -> VersionView:
    # Rows of t.versions.select(), read by column name at indexes computed once: per-attribute Row access
    # dominated long lists.
    model_id, n, name, description, tags, stage, created_at, updated_at, created_by, run_id = _VERSION_FIELDS(row)
    return VersionView(
        model_id=model_id, model_name=model_name, number=n, name=name, description=description,
        tags=tuple(json.loads(tags)) if tags != "[]" else (), stage=stage, aliases=tuple(aliases.get(n, ())),
        data_count=counts.get((n, _DATA), 0), model_count=counts.get((n, _MODEL), 0),
        deployment_count=counts.get((n, _DEPLOYMENT), 0), run_count=runs.get(n, 0),
        created_at=created_at, updated_at=updated_at, created_by=created_by, created_run_id=run_id,
    )


def _link_view(row: Any) -> LinkView:
    return LinkView(**{name: row._mapping[name] for name in LinkView.__dataclass_fields__})


def _run_view(row: Any) -> RunView:
    m = row._mapping
    error = f"{m['error_type']}: {m['error_message']}" if m.get("error_type") else None
    return RunView(
        run_id=m["run_id"], pipeline=m["pipeline"], status=m.get("status") or RunStatus.UNKNOWN.value,
        started_at=m.get("started_at"), finished_at=m.get("finished_at"),
        steps_completed=int(m.get("steps_completed") or 0), error=error, linked_at=m.get("linked_at"),
        model_name=m.get("model_name"), version_number=m.get("version_number"),
    )


__all__ = ["ReadModel"]
