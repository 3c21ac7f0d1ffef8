"""A whole-log replay into empty read models (rebuild, catch-up, verify's scratch copy): what it defers.

The derived views (``temporal.DERIVED``: links, run links, artifacts) are their twins' open rows, so
every replay writes their rows once, to the twins. The stamps of link and run-link events
(``temporal.stamps``: model, position, version number, time) are copied from those twin rows at the end
rather than queued one by one: each such event inserted exactly one twin row, at its position and time
(:data:`STAMPED_BY_ROW`), and most events of a large registry are links, where a row bound from Python
value by value costs about twice a row copied inside the database. The incremental projector (an
append) queues their stamps as before; ``verify`` replays through this path, so the property tests
compare the two after every step.

The history tables' secondary indexes are dropped for the replay and built after it, one sort each
(:func:`temporal.indexes_built_after`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from modelog.projections import tables as t
from modelog.projections.temporal import TWINS, indexes_built_after, stamps
from modelog.registry._sql.driver import DriverStatement
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

#: Links and run links: tables whose every row is one event's, inserted at its position and time.
STAMPED_BY_ROW: tuple[Table, ...] = (t.artifact_links, t.run_links)
#: Their names: a bulk replay's projector queues no stamps for their events (see ``projector._Writes.touch``).
STAMPED_LATER: frozenset[str] = frozenset(view.name for view in STAMPED_BY_ROW)


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
    queues none for them in a bulk replay) and the history indexes built.
    """
    with indexes_built_after(conn):
        yield
        for statement in _STAMPINGS:  # before the stamps' index is built
            statement.execute(conn)
