"""The log's head position, read for a hot path: one statement on one kept driver connection.

A server asks "has the log moved?" before every request (token checks and cached answers are
kept per head position). Through a SQLAlchemy connection that is a BEGIN, the statement and a
COMMIT, ~130 µs of Python on SQLite; here it is one statement on a DB-API connection in
autocommit mode (~7 µs on SQLite, one round trip on PostgreSQL). Each statement runs in a
transaction of its own, so it always sees the latest commit (a connection kept inside one
transaction would keep reading its old snapshot). Appends commit in position order (see
:mod:`modelog.registry.store`), so an unchanged head means an unchanged log and read models.

The connection is detached from the engine's pool: it is this watcher's alone, used by one
thread at a time, and closed for good (never handed to another user) after any failure.
"""

from __future__ import annotations

import contextlib
from typing import Any

from modelog.registry.errors import StorageError
from modelog.registry.recorder import StoredEvent
from modelog.registry.schema import events
from modelog.registry.sealing import row_to_event
from sqlalchemy import bindparam, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.sql.compiler import SQLCompiler


class HeadWatch:
    """The position of the log's last event (0 for an empty log), read on a connection of its own.

    Used by one thread at a time; :meth:`open` may run on another thread first (a connect can block,
    a caller with an event loop opens it elsewhere).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = str(select(func.coalesce(func.max(events.c.position), 0))
                        .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        between = (events.select().where(events.c.position > bindparam("after"), events.c.position <= bindparam("upto"))
                   .order_by(events.c.position).compile(dialect=engine.dialect))
        self._between_sql = between.string
        # The driver's paramstyle: positional (SQLite) or by name (psycopg).
        self._between_names = between.positiontup if isinstance(between, SQLCompiler) else None
        self._errors: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._conn: Any = None
        self._cursor: Any = None

    @property
    def is_open(self) -> bool:
        """True while the kept connection is open (a read then costs no connect)."""
        return self._cursor is not None

    def __call__(self) -> int:
        """The head position now."""
        try:
            cursor = self._cursor if self._cursor is not None else self._connect()
            cursor.execute(self._sql)
            return int(cursor.fetchall()[0][0])  # fetched to the end: SQLite ends the read there
        except (self._errors, sa_exc.DBAPIError) as error:
            self.close()  # a dropped connection: the next call opens a new one
            raise StorageError(_describe(error)) from error

    def events_between(self, after: int, upto: int) -> list[StoredEvent]:
        """The events at positions after ``after`` up to ``upto``, in order (a caller following the log a few events
        at a time, on the same kept connection: no transaction set-up, no statement built)."""
        bound = {"after": after, "upto": upto}
        args: Any = tuple(bound[name] for name in self._between_names) if self._between_names else bound
        try:
            cursor = self._cursor if self._cursor is not None else self._connect()
            cursor.execute(self._between_sql, args)
            return [row_to_event(row) for row in cursor.fetchall()]
        except (self._errors, sa_exc.DBAPIError) as error:
            self.close()
            raise StorageError(_describe(error)) from error

    def open(self) -> None:
        """Connect now if not connected (StorageError if the database cannot be reached)."""
        if self._cursor is None:
            try:
                self._connect()
            except (self._errors, sa_exc.DBAPIError) as error:
                self.close()
                raise StorageError(_describe(error)) from error

    def _connect(self) -> Any:
        pooled = self.engine.raw_connection()  # the engine's connect events configure it (SQLite: autocommit)
        pooled.detach()
        conn: Any = pooled.dbapi_connection
        if conn is None:  # pragma: no cover - a just checked-out connection always has its driver connection
            raise StorageError("database error: no driver connection")
        if self.engine.dialect.name == "postgresql":
            conn.rollback()  # end anything the pool's liveness check began before switching modes
            conn.autocommit = True
        self._conn, self._cursor = conn, conn.cursor()
        return self._cursor

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        conn, self._conn, self._cursor = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _describe(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"database error: {lines[0] if lines else type(original).__name__}"
