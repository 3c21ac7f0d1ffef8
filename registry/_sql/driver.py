"""Statements compiled once per dialect and executed at driver level.

Building a SQLAlchemy expression and looking up its compiled form costs more than the
SQL itself on hot paths (an append, a projection, a replay). A :class:`DriverStatement`
compiles its Core statement once per dialect and then hands the SQL text and parameters
straight to the DB-API cursor via ``Connection.exec_driver_sql`` (same transaction, same
error wrapping). Parameters are plain Python values: no SQLAlchemy type processing runs,
so use it only for columns whose values the driver stores as given (text, numbers, bools).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class DriverStatement:
    """A Core statement, compiled on first use per dialect, executed without re-compiling."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {}

    def _compiled_for(self, conn: Connection) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)
            literals = {key: value for key, value in compiled.params.items() if value is not None}
            positions = compiled.positiontup if isinstance(compiled, SQLCompiler) else None
            found = self._compiled[name] = (compiled.string, _binder(positions, literals))
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> CursorResult[*tuple[Any, ...]]:
        """Run the statement once with ``params`` (by bind name)."""
        sql, bind = self._compiled_for(conn)
        return conn.exec_driver_sql(sql, bind(params or {}))

    def fetchall(self, conn: Connection, params: Mapping[str, Any] | None = None, *, prepare: bool = False
                 ) -> list[Any]:
        """Every row of a small read, as the driver returns them, inside ``conn``'s transaction.

        The read runs on a DB-API cursor of the same connection: SQLAlchemy's result set-up
        costs more than a small read itself. A driver error is raised as SQLAlchemy would raise
        it (the same exception class, a lost connection invalidated), so callers handle it alike.
        """
        sql, bind = self._compiled_for(conn)
        args = bind(params or {})
        try:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        except Exception:  # no cursor to be had: SQLAlchemy runs the read and reports its way
            return list(conn.exec_driver_sql(sql, args).all())
        try:
            if prepare and conn.dialect.driver == "psycopg":  # a server-side prepared statement: planned once
                cursor.execute(sql, args, prepare=True)  # type: ignore[call-arg]  # psycopg 3's own keyword
            else:
                cursor.execute(sql, args)
            return list(cursor.fetchall())
        except conn.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy_error(conn, cursor, sql, args, error) from error
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row, in one driver ``executemany`` call (see :func:`write_on_cursor`)."""
        if not rows:
            return
        sql, bind = self._compiled_for(conn)
        write_on_cursor(conn, sql, [bind(row) for row in rows])


def write_on_cursor(conn: Connection, sql: str, rows: Sequence[Any]) -> None:
    """Run a write once per row on a DB-API cursor of ``conn``'s transaction (one ``executemany``).

    SQLAlchemy's statement set-up (execution context, result object, event dispatch) costs more
    than the statement on the command path; a driver error is raised as SQLAlchemy raises it (the
    same exception class, a lost connection invalidated), so callers handle it alike. Whenever
    SQLAlchemy would do more than call the cursor (someone listens to cursor executes, statements
    are echoed, no transaction is begun yet), the write goes through ``exec_driver_sql`` instead.
    """
    if _watched(conn) or not conn.in_transaction():
        conn.exec_driver_sql(sql, list(rows))
    else:
        _on_cursor(conn, sql, rows)


def begin_on_cursor(conn: Connection, sql: str) -> None:
    """Run the statement that opens a transaction (``BEGIN IMMEDIATE``) from a ``begin`` listener, on the cursor.

    As :func:`write_on_cursor`: through ``exec_driver_sql`` whenever someone watches statements.
    """
    if _watched(conn):
        conn.exec_driver_sql(sql)
    else:
        _on_cursor(conn, sql, None)


def _on_cursor(conn: Connection, sql: str, rows: Sequence[Any] | None) -> None:
    """Run ``sql`` (once per row; once without parameters for None) on a DB-API cursor of ``conn``."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if rows is None:
            cursor.execute(sql)
        elif len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
    except conn.dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemy_error(conn, cursor, sql, rows or (), error) from error
    finally:
        cursor.close()


def _watched(conn: Connection) -> bool:
    """True when ``exec_driver_sql`` would do more than run the cursor: keep its behaviour then.

    Cursor-execute listeners (instrumentation, the reliability suite's injected faults) and the
    dialect's execute hooks see every statement, echo logs it, and an invalidated connection is
    refused (or revalidated) by SQLAlchemy.
    """
    dispatch = conn.dispatch
    return (bool(dispatch.before_cursor_execute) or bool(dispatch.after_cursor_execute) or conn.dialect._has_events
            or conn._echo or conn.invalidated)


def _as_sqlalchemy_error(conn: Connection, cursor: Any, sql: str, args: Any, error: DBAPIModule.Error) -> Exception:
    """The exception SQLAlchemy raises for this driver error (and the connection invalidated if it was lost)."""
    lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
    if lost:
        conn.invalidate(error)
    return sa_exc.DBAPIError.instance(sql, args, error, conn.dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=conn.dialect)


def _binder(positions: Sequence[str] | None, literals: dict[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
    """Turn parameters by bind name into what the driver's paramstyle takes (a tuple or a dict)."""
    if positions is None:
        return (lambda params: {**literals, **params}) if literals else dict
    if not positions:
        return lambda params: ()
    pick = itemgetter(*positions)
    if len(positions) == 1:
        return (lambda params: (pick({**literals, **params}),)) if literals else (lambda params: (pick(params),))
    return (lambda params: pick({**literals, **params})) if literals else pick


class PositionalInsert:
    """``INSERT INTO table (every column) VALUES (...)`` taking rows as sequences in column order.

    Bulk replays build millions of rows; building them as lists in column order and handing
    them to the driver as they are skips a dict per row and the by-name binding step.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self.columns: tuple[str, ...] = tuple(table.columns.keys())
        self._sql: dict[str, str] = {}

    def _sql_for(self, conn: Connection) -> str:
        name = conn.dialect.name
        found = self._sql.get(name)
        if found is None:
            marker = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
            quote = conn.dialect.identifier_preparer.quote
            found = self._sql[name] = (
                f"INSERT INTO {quote(self.table.name)} ({', '.join(quote(c) for c in self.columns)}) "
                f"VALUES ({', '.join([marker] * len(self.columns))})")
        return found

    def execute(self, conn: Connection, row: Sequence[Any]) -> None:
        """Insert one row (see :func:`write_on_cursor`)."""
        write_on_cursor(conn, self._sql_for(conn), [tuple(row)])

    def executemany(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert every row in one driver ``executemany`` call (see :func:`write_on_cursor`)."""
        if rows:
            write_on_cursor(conn, self._sql_for(conn), rows)

    def load(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert every row (tuples or lists) as a bulk load, on a driver cursor of ``conn``'s transaction.

        With psycopg, PostgreSQL's ``COPY ... FROM STDIN``: its ``executemany`` has the server plan and
        run one ``INSERT`` per row, where ``COPY`` streams the rows into one command. Otherwise the
        driver's own ``executemany``, without SQLAlchemy's check of every row. For bulk passes into
        tables without triggers (a replay of the read models). A driver error is raised as SQLAlchemy
        would raise it.
        """
        if not rows:
            return
        copying = conn.dialect.driver == "psycopg"
        if copying:
            quote = conn.dialect.identifier_preparer.quote
            sql = f"COPY {quote(self.table.name)} ({', '.join(quote(c) for c in self.columns)}) FROM STDIN"
        else:
            sql = self._sql_for(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if copying:
                with cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(sql, rows)
        except conn.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy_error(conn, cursor, sql, (), error) from error
        finally:
            cursor.close()
