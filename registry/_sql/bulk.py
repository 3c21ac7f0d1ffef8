"""Help for bulk passes over the log (rebuild, verify, import, past reads)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a bulk pass.

    A replay allocates a few objects per event (a decoded dict, a row, a queued parameter
    tuple) that reference counting frees batch by batch; none of them form cycles. The cyclic
    collector still walks the young generation every few hundred allocations, which cost a
    tenth of a rebuild's time. Collection resumes afterwards (unless the caller had already
    switched it off), and any cycle made in between is collected then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def refresh_statistics(conn: Connection, tables: Iterable[str] = ()) -> None:
    """After a bulk load on PostgreSQL, gather the planner's statistics of ``tables``.

    With none named: every table in the connection's schema (an import's, which filled an empty registry).

    The load's transaction ANALYZEs what it wrote before it commits (ANALYZE counts the transaction's own
    rows), so the first read after an import or a rebuild is planned with statistics: without them the
    planner guesses at the selectivity of a position range and can scan a whole index for a few rows, and
    autovacuum (when it runs at all) samples a large table only after its next nap. SQLite: nothing, as
    before (its plans do not depend on gathered statistics unless ``ANALYZE`` was ever run).
    """
    if conn.dialect.name != "postgresql":
        return
    names = list(tables) or _schema_tables(conn)
    if names:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql("ANALYZE " + ", ".join(quote(name) for name in names))


def vacuum_after_bulk_load(engine: Engine, tables: Iterable[str] = ()) -> None:
    """After a bulk load has committed on PostgreSQL, VACUUM ``tables`` (when none are named: the schema's).

    A freshly written page is not marked all-visible until a VACUUM, so until then every index-only scan
    still visits the heap for each entry: a past read's version count at P (one index entry per version)
    cost several times its present read on a just-imported registry. Autovacuum gets there eventually
    (when it is on); the load does it at once. VACUUM cannot run inside a transaction, hence its own
    connection, without the statement timeout (a large log takes longer than a read). It is upkeep only:
    a failure leaves the committed load as it is and is not raised.
    """
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            names = list(tables) or _schema_tables(conn)
            quote = conn.dialect.identifier_preparer.quote
            conn.exec_driver_sql("SET statement_timeout = 0")
            try:
                conn.exec_driver_sql("VACUUM " + ", ".join(quote(name) for name in names))
            finally:
                conn.exec_driver_sql("RESET statement_timeout")
    except DBAPIError:
        return  # upkeep only (e.g. the server went away after the commit): autovacuum or the next load does it


def _schema_tables(conn: Connection) -> list[str]:
    return [row[0] for row in conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
