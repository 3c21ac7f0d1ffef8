"""A whole-log replay into empty read models (rebuild, catch-up, verify's scratch copy): what it skips.

Three view tables are only ever inserted at an event's position and deleted by a later event, and no
handler reads them: ``view_artifact_links``, ``view_run_links`` and ``view_artifacts`` (:data:`DERIVED`).
Their history twins hold every row they ever had, closed at the position of the event that deleted it
(``temporal.REVISIONS``: the deleting event's revision closes the key's open twin rows and copies the
key's present rows, of which a deletion leaves none). So a replay from an empty log writes those rows to
the twins only, and the view is the twin's open rows, copied at the end by one ``INSERT ... SELECT``
(:func:`bulk_replay`): most events of a large registry are artifact links, and a row from Python (bound
value by value by the driver) costs about twice a row copied inside the database. For the same reason
the stamps of link and run-link events (``temporal.stamps``: model, position, version number, time) are
copied from those twin rows at the end rather than queued one by one: each such event inserted exactly
one twin row, at its position and time (:data:`STAMPED_BY_ROW`). The incremental
projector (an append) writes both, as before; ``verify`` replays through this path, so the property
tests compare the two after every step. A handler that reads one of these views, or changes its rows
without deleting them, would break this: such a view must leave :data:`DERIVED`
(``tests/unit/test_projector_rows.py`` checks ``projector.READS``).

The history tables' secondary indexes are dropped for the replay and built after it, one sort each
(:func:`temporal.indexes_built_after`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from modelog.projections import tables as t
from modelog.projections.temporal import OPEN, TWINS, indexes_built_after, stamps
from modelog.registry._sql.driver import DriverStatement
from sqlalchemy import Table, literal, select
from sqlalchemy.engine import Connection

#: View tables a whole-log replay writes only to their twins; the views are the twins' open rows.
DERIVED: tuple[Table, ...] = (t.artifact_links, t.run_links, t.artifacts)
#: Their names, as the projector's writes name tables.
DERIVED_NAMES: frozenset[str] = frozenset(view.name for view in DERIVED)


def _derivation(view: Table, ordered: bool) -> DriverStatement:
    """``INSERT INTO view SELECT <its columns> FROM twin WHERE valid_to = OPEN`` (``ordered``: in key order)."""
    twin = TWINS[view.name]
    columns = [c.name for c in view.columns]
    if any(name not in twin.c for name in columns):  # a stamped column would have no value in the twin
        raise ValueError(f"{view.name} cannot be derived from {twin.name}: columns differ")
    key = [twin.c[c.name] for c in view.primary_key.columns]
    still_open = twin.c.valid_to == literal(OPEN, twin.c.valid_to.type)
    open_rows = select(*(twin.c[name] for name in columns)).where(still_open)
    if not ordered:
        return DriverStatement(view.insert().from_select(columns, open_rows))
    return DriverStatement(view.insert().from_select(columns, open_rows.order_by(*key, twin.c.valid_from)))


#: On SQLite the twin is stored in key order (``WITHOUT ROWID``), so the ordered copy costs no sort; on
#: PostgreSQL it would sort every row, and the heap already holds them nearly in key order (each batch sorted).
_DERIVATIONS = {True: tuple(_derivation(view, True) for view in DERIVED),
                False: tuple(_derivation(view, False) for view in DERIVED)}

#: Links and run links: tables whose every row is one event's, inserted at its position and time.
STAMPED_BY_ROW: tuple[Table, ...] = (t.artifact_links, t.run_links)


def _stamps_of(view: Table) -> DriverStatement:
    """The stamps of the events that inserted ``view``'s rows, from its twin: one row per event."""
    twin = TWINS[view.name]
    return DriverStatement(stamps.insert().from_select(
        ["model_id", "position", "number", "updated_at"],
        select(twin.c.model_id, twin.c.valid_from, twin.c.number, twin.c.created_at)))


_STAMPINGS = tuple(_stamps_of(view) for view in STAMPED_BY_ROW)


@contextmanager
def fast_deletes(conn: Connection) -> Iterator[None]:
    """On SQLite, for a reset and replay of the read models: deleted rows are not overwritten with zeros.

    Builds of SQLite with ``SECURE_DELETE`` on by default (Debian's and Ubuntu's, among others) zero every
    page a ``DELETE`` frees and write it out: emptying the read models of a large registry then cost a
    fifth of its rebuild. What a rebuild deletes is a projection of the log kept in the same file, so
    there is nothing to scrub; ``FAST`` still zeroes what costs no extra I/O. The setting belongs to the
    connection, so it is put back afterwards.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        if not conn.invalidated:  # a lost connection is not reused (and must not hide the error that lost it)
            conn.exec_driver_sql(f"PRAGMA secure_delete = {int(before or 0)}")


@contextmanager
def bulk_replay(conn: Connection) -> Iterator[None]:
    """Around a whole-log replay into empty read models (``apply_events(..., bulk=True)``).

    After the block, the stamps of the links and run links are copied from their twins (the projector
    queues none for them in a bulk replay), the history indexes built and the derived views filled.
    """
    with indexes_built_after(conn):
        yield
        for statement in _STAMPINGS:  # before the stamps' index is built
            statement.execute(conn)
    for statement in _DERIVATIONS[conn.dialect.name == "sqlite"]:
        statement.execute(conn)
