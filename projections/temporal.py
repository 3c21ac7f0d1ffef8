"""Temporal read models: the history twin of every view table, written by the projector in the append's transaction.

Every view table ``view_x`` has a twin ``hist_x`` with the same columns (less the *stamped* ones, below)
plus ``valid_from`` and ``valid_to``: the log positions between which that row was true
(``valid_from <= P < valid_to``; :data:`OPEN` for the row that is true now). The projector keeps the
present tables exactly as before and, in the same transaction, writes the twins:

* a row a batched handler inserts goes to the twin too, valid from the event's position;
* after a handler that updates or deletes rows, :func:`revise` closes the key's open twin rows at the
  event's position and copies the key's present rows (none after a deletion) into the twin.

``updated_at`` changes on nearly every event (each artifact link touches its version and its model),
and ``version_count`` / ``latest_version`` with each version. Versioning whole rows for those would
write a model and a version row per link; instead they are *stamped*: ``hist_stamps`` holds one narrow
row per event that touches a model (and which version it touched), and a read as of P takes the
latest stamp at or before P; the counts come from the version twin. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, Protocol

from modelog.projections import tables as t
from modelog.registry._sql.driver import DriverStatement, PositionalInsert
from modelog.registry.schema import PositionType
from modelog.registry.vocabulary import MODEL_PREFIX, EventType, run_id_of
from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, String, Table, and_, bindparam, literal, select
from sqlalchemy.engine import Connection

#: ``valid_to`` of a row that is still true (above any log position).
OPEN = 2**62
#: Columns of a view table that are not versioned in its twin but derived from stamps (see module doc).
STAMPED = {t.models.name: ("updated_at", "version_count", "latest_version"), t.versions.name: ("updated_at",)}


def _twin(table: Table, *indexes: Sequence[str]) -> Table:
    """The history twin of ``table``: its columns less the stamped ones, plus the validity interval.

    Keyed by the view's key plus ``valid_from``, and stored in key order (SQLite ``WITHOUT ROWID``): a
    key has few versions, so the key's prefix finds its open row, and a model's or version's rows are
    read without a second lookup.
    """
    skipped = STAMPED.get(table.name, ())
    columns = [Column(c.name, c.type, nullable=c.nullable) for c in table.columns if c.name not in skipped]
    key = [c.name for c in table.primary_key.columns]
    name = "hist_" + table.name.removeprefix("view_")
    return Table(
        name, t.metadata, *columns,
        Column("valid_from", PositionType, nullable=False), Column("valid_to", PositionType, nullable=False),
        PrimaryKeyConstraint(*key, "valid_from"),
        *(Index(f"ix_{name}_{'_'.join(cols)}", *cols) for cols in indexes),
        sqlite_with_rowid=False,
    )


models = _twin(t.models, ("name_key", "model_id", "valid_from", "valid_to"), ("valid_from", "valid_to"))
# A model's version count and latest version at P, index-only: its entries in number order (the latest is the first
# valid one from the top). Led by the number, not by ``valid_to``: a statement psycopg prepared is planned for any P,
# and PostgreSQL then took an index without the number's order for the latest version and sorted all of them.
versions = _twin(t.versions, ("model_id", "number", "valid_from", "valid_to"))
aliases = _twin(t.aliases)
artifact_links = _twin(t.artifact_links)
run_links = _twin(t.run_links)
runs = _twin(t.runs, ("started_at", "valid_from"), ("model_id", "valid_to"))  # the latter: a rename's revision
step_runs = _twin(t.step_runs)
artifacts = _twin(t.artifacts, ("name_key", "version", "valid_from"))

#: One row per event that touches a model: when (``position``), which version (``number``, or none), and its time.
stamps = Table(
    "hist_stamps", t.metadata,
    Column("model_id", String(64), nullable=False),
    Column("position", PositionType, nullable=False),
    Column("number", Integer),
    Column("updated_at", String(32), nullable=False),
    PrimaryKeyConstraint("model_id", "position"),
    Index("ix_hist_stamps_version", "model_id", "number", "position", "updated_at"),
    sqlite_with_rowid=False,
)

#: How many models there were after each event that changed their number (a registration, a deletion): the
#: unfiltered count of a past model list is one probe here, not a scan of every model row valid then.
model_counts = Table(
    "hist_model_counts", t.metadata,
    Column("position", PositionType, nullable=False),
    Column("models", Integer, nullable=False),
    PrimaryKeyConstraint("position"),
    sqlite_with_rowid=False,
)

#: Views whose present rows are exactly their twin's open rows: their rows are only ever inserted at an event's
#: position and deleted by a later event (never updated), and no handler reads them. In a registry they are SQL
#: views over the twin (:func:`create_derived_views`), so each of their rows is written once, to the twin; the
#: deleting event's revision closes it. A scratch replay without twins (``apply_events(history=False)``)
#: creates them as tables and deletes their rows itself (``handlers.PRESENT_DELETIONS``).
DERIVED: tuple[Table, ...] = (t.artifact_links, t.run_links, t.artifacts)
#: Their names, as the projector's writes name tables.
DERIVED_NAMES: frozenset[str] = frozenset(view.name for view in DERIVED)

#: The twin of each view table, by the view table's name.
TWINS: dict[str, Table] = {view.name: twin for view, twin in (
    (t.models, models), (t.versions, versions), (t.aliases, aliases), (t.artifact_links, artifact_links),
    (t.run_links, run_links), (t.runs, runs), (t.step_runs, step_runs), (t.artifacts, artifacts))}
#: Every history table, in the order a reset clears them.
HISTORY_TABLES: tuple[Table, ...] = (*TWINS.values(), stamps, model_counts)


class HistoryEvent(Protocol):
    """What the history writer reads of an event (``handlers.ProjectedEvent`` reads more)."""

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
    def recorded_at(self) -> str:
        """When it was recorded (fixed-width UTC text)."""


# --- rows inserted by the batched handlers -----------------------------------------------------


def _row_picker(view: Table) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Turns a view row (a list in column order) into its twin's row without the interval."""
    skipped = STAMPED.get(view.name, ())
    kept = [i for i, c in enumerate(view.columns) if c.name not in skipped]
    if len(kept) == len(view.columns):
        return tuple
    return itemgetter(*kept)


_PICKERS = {name: _row_picker(view) for name, view in
            ((v.name, v) for v in (t.models, t.versions, t.aliases, t.artifact_links, t.run_links, t.runs,
                                   t.step_runs, t.artifacts))}
_HIST_INSERTS = {name: PositionalInsert(twin) for name, twin in TWINS.items()}


def _key_of(table: Table) -> Callable[[Sequence[Any]], Any]:
    """The primary key of a row of ``table`` (a sequence in column order)."""
    names = list(table.columns.keys())
    return itemgetter(*(names.index(c.name) for c in table.primary_key.columns))


#: Queued rows are inserted in key order: a b-tree takes sorted keys with far fewer page visits.
_TWIN_KEYS = {name: _key_of(twin) for name, twin in TWINS.items()}
_STAMP_KEY = _key_of(stamps)
_STAMP_INSERT = PositionalInsert(stamps)
_COUNT_INSERT = PositionalInsert(model_counts)
_LAST_COUNT = DriverStatement(select(model_counts.c.models).order_by(model_counts.c.position.desc()).limit(1))


class HistoryWrites:
    """The twin rows and stamps of a run of batched events, flushed with the present rows."""

    def __init__(self, conn: Connection, bulk: bool = False) -> None:
        self.conn, self.bulk = conn, bulk
        # A whole-log replay loads its rows in bulk (COPY on PostgreSQL): see ``PositionalInsert.load``.
        self.insert_rows = PositionalInsert.load if bulk else PositionalInsert.executemany
        self.rows: dict[str, list[Sequence[Any]]] = {}
        self.stamps: list[tuple[str, int, int | None, str]] = []
        self.counted: list[tuple[int, int]] = []  # (position, +1 or -1) of each event that changed the model count

    def row(self, table: str, row: Sequence[Any], position: int) -> None:
        """Queue the twin of a present row inserted at ``position`` (built before later touches change it)."""
        twin_row = _PICKERS[table](row) + (position, OPEN)
        found = self.rows.get(table)
        if found is None:
            self.rows[table] = [twin_row]
        else:
            found.append(twin_row)

    def only_twin(self, table: str, row: list[Any], position: int) -> None:
        """Queue the row of a derived view (``DERIVED``: no stamped columns) for its twin, where it alone goes.

        In a bulk load the list ``row`` itself becomes the twin's row (extended, not copied); the driver's
        ``executemany`` of an append takes tuples.
        """
        twin_row: Sequence[Any]
        if self.bulk:
            row += (position, OPEN)
            twin_row = row
        else:
            twin_row = (*row, position, OPEN)
        found = self.rows.get(table)
        if found is None:
            self.rows[table] = [twin_row]
        else:
            found.append(twin_row)

    def registered(self, model_id: str, position: int, at: str) -> None:
        """Record a model's registration (a batched event): its first stamp, and one model more."""
        self.stamps.append((model_id, position, None, at))
        self.counted.append((position, 1))

    def after(self, conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
        """Record what a one-event handler's event changed: its stamp, the model count, its revisions.

        The batched handlers stamp through the projector's writes instead (one call fewer per event).
        """
        touches_version = STAMPS.get(event.event_type)
        if touches_version is not None:
            number = data["number"] if touches_version else None
            self.stamps.append((_model_id(event), event.position, number, event.recorded_at))
        change = COUNTS.get(event.event_type)
        if change is not None:
            self.counted.append((event.position, change))
        revision = REVISIONS.get(event.event_type)
        if revision is not None:
            revision(conn, event, data)

    def flush(self) -> None:
        """Insert everything queued."""
        for table, rows in self.rows.items():
            rows.sort(key=_TWIN_KEYS[table])
            self.insert_rows(_HIST_INSERTS[table], self.conn, rows)
        if self.stamps:
            self.stamps.sort(key=_STAMP_KEY)
            self.insert_rows(_STAMP_INSERT, self.conn, self.stamps)
        if self.counted:
            found = _LAST_COUNT.fetchall(self.conn)
            models, rows = (int(found[0][0]) if found else 0), []
            for position, change in self.counted:  # in log order: every earlier event's count is already written
                models += change
                rows.append((position, models))
            _COUNT_INSERT.executemany(self.conn, rows)
        self.rows, self.stamps, self.counted = {}, [], []


# --- rows updated or deleted by the one-event handlers ------------------------------------------

_REVISIONS: dict[tuple[str, tuple[str, ...]], tuple[DriverStatement, ...]] = {}


def _revision(view: Table, keys: tuple[str, ...]) -> tuple[DriverStatement, ...]:
    """Drop this event's own twin rows of a key, close its open ones, copy its present ones (compiled once).

    A derived view is its twin's open rows: closing them is its revision (a derived view's rows are only
    ever deleted, so there is nothing to copy back).
    """
    found = _REVISIONS.get((view.name, keys))
    if found is None:
        twin = TWINS[view.name]
        on_twin = [twin.c[k] == bindparam(f"key_{k}") for k in keys]
        copied = [c.name for c in twin.columns if c.name not in ("valid_from", "valid_to")]
        found = (
            DriverStatement(twin.delete().where(*on_twin, twin.c.valid_from == bindparam("key_at"))),
            DriverStatement(twin.update().where(*on_twin, twin.c.valid_to == OPEN)
                            .values(valid_to=bindparam("key_at"))),
        )
        if view.name not in DERIVED_NAMES:
            found += (DriverStatement(twin.insert().from_select(
                [*copied, "valid_from", "valid_to"],
                select(*(view.c[c] for c in copied), bindparam("key_at", type_=PositionType),
                       literal(OPEN, PositionType))
                .where(and_(*(view.c[k] == bindparam(f"key_{k}") for k in keys))))),)
        _REVISIONS[(view.name, keys)] = found
    return found


def revise(conn: Connection, view: Table, position: int, **keys: Any) -> None:
    """Make the twin of ``view`` agree with its present rows matching ``keys``, as of ``position``.

    Idempotent within one event: rows this event already wrote to the twin are replaced.
    """
    params = {f"key_{k}": v for k, v in keys.items()}
    params["key_at"] = position
    for statement in _revision(view, tuple(keys)):
        statement.execute(conn, params)


def derived_view_definition(view: Table, conn: Connection) -> str:
    """``CREATE VIEW`` of a derived view: its columns, in its order, from its twin's open rows."""
    twin = TWINS[view.name]
    open_rows = select(*(twin.c[c.name] for c in view.columns)).where(twin.c.valid_to == literal(OPEN, PositionType))
    body = open_rows.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return f"CREATE VIEW {conn.dialect.identifier_preparer.quote(view.name)} AS {body}"


def create_derived_views(conn: Connection) -> None:
    """Create the derived views (:data:`DERIVED`) that are missing; their twins must exist."""
    for view in DERIVED:
        if not conn.dialect.has_table(conn, view.name):
            conn.exec_driver_sql(derived_view_definition(view, conn))


def reset_history(conn: Connection) -> None:
    """Empty every history table."""
    for table in HISTORY_TABLES:
        conn.execute(table.delete())


@contextmanager
def indexes_built_after(conn: Connection) -> Iterator[None]:
    """Drop the history tables' secondary indexes for a bulk load inside the block, and build them after it.

    One sort per index at the end costs far less than a random b-tree insert per row; both happen in
    the caller's transaction, so other readers see the old indexes or the new ones.
    """
    indexes = [index for table in HISTORY_TABLES for index in table.indexes]
    for index in indexes:
        index.drop(conn, checkfirst=True)
    yield
    for index in indexes:
        index.create(conn)


# --- which events write what ---------------------------------------------------------------------

#: Event types that touch a model's ``updated_at``, and whether they touch a version's too (its ``number``):
#: every model-stream event but the deletion, as the projector's touches. The batched ones (``projector.BATCHED``)
#: stamp where the projector touches the model (``_Writes.touch``, ``add_version``, ``_queue_model``);
#: :meth:`HistoryWrites.after` stamps the others from this table.
STAMPS: dict[str, bool] = {
    EventType.MODEL_REGISTERED.value: False,
    EventType.MODEL_UPDATED.value: False,
    EventType.MODEL_RENAMED.value: False,
    EventType.MODEL_VERSION_DELETED.value: False,
    EventType.MODEL_VERSION_CREATED.value: True,
    EventType.MODEL_VERSION_UPDATED.value: True,
    EventType.MODEL_VERSION_STAGE_CHANGED.value: True,
    EventType.MODEL_VERSION_ALIAS_SET.value: True,
    EventType.MODEL_VERSION_ALIAS_REMOVED.value: True,
    EventType.ARTIFACT_LINKED.value: True,
    EventType.ARTIFACT_UNLINKED.value: True,
    EventType.PIPELINE_RUN_LINKED.value: True,
    EventType.MODEL_VERSION_METADATA_LOGGED.value: True,
}

#: Event types that change the number of models, and by how much.
COUNTS: dict[str, int] = {EventType.MODEL_REGISTERED.value: 1, EventType.MODEL_DELETED.value: -1}

_MODEL_ID_START = len(MODEL_PREFIX)
Revision = Callable[[Connection, HistoryEvent, dict[str, Any]], None]


def _model_id(event: HistoryEvent) -> str:
    return event.stream_id[_MODEL_ID_START:]


def _revise_model(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    revise(conn, t.models, event.position, model_id=_model_id(event))


def _revise_renamed_model(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    for view in (t.models, t.runs):  # the model's row and its runs' (they show its name)
        revise(conn, view, event.position, model_id=_model_id(event))


def _revise_deleted_model(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    for view in (t.artifact_links, t.run_links, t.aliases, t.versions, t.models):
        revise(conn, view, event.position, model_id=_model_id(event))


def _revise_version(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    revise(conn, t.versions, event.position, model_id=_model_id(event), number=data["number"])


def _revise_alias(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    revise(conn, t.aliases, event.position, model_id=_model_id(event), alias=data["alias"])


def _revise_deleted_version(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    for view in (t.artifact_links, t.run_links, t.aliases, t.versions):
        revise(conn, view, event.position, model_id=_model_id(event), number=data["number"])


def _revise_unlinked(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    revise(conn, t.artifact_links, event.position, model_id=_model_id(event), number=data["number"],
           pipeline=data["pipeline"], step=data["step"], name=data["name"], kind=data["kind"])


def _revise_step(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    run_id = run_id_of(event.stream_id)
    revise(conn, t.step_runs, event.position, run_id=run_id, step=data["step"])
    revise(conn, t.runs, event.position, run_id=run_id)


def _revise_run(conn: Connection, event: HistoryEvent, data: dict[str, Any]) -> None:
    revise(conn, t.runs, event.position, run_id=run_id_of(event.stream_id))


#: What each one-event handler of the projector (``handlers.HANDLERS``) changes in the twins, applied after it.
REVISIONS: dict[str, Revision] = {
    EventType.MODEL_UPDATED.value: _revise_model,
    EventType.MODEL_DELETED.value: _revise_deleted_model,
    EventType.MODEL_RENAMED.value: _revise_renamed_model,
    EventType.MODEL_VERSION_UPDATED.value: _revise_version,
    EventType.MODEL_VERSION_STAGE_CHANGED.value: _revise_version,
    EventType.MODEL_VERSION_ALIAS_SET.value: _revise_alias,
    EventType.MODEL_VERSION_ALIAS_REMOVED.value: _revise_alias,
    EventType.MODEL_VERSION_DELETED.value: _revise_deleted_version,
    EventType.ARTIFACT_UNLINKED.value: _revise_unlinked,
    EventType.PIPELINE_STEP_COMPLETED.value: _revise_step,
    EventType.PIPELINE_RUN_COMPLETED.value: _revise_run,
    EventType.PIPELINE_RUN_FAILED.value: _revise_run,
}
