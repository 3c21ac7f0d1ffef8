"""Engines and transactions: where the registry's database lives and how it is opened.

Nothing here runs at import time; :func:`create_engine_for` is called by the one
composition root (``sdk.bootstrap``) or by tests.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelog.registry._sql.driver import begin_on_cursor
from modelog.registry.errors import RegistryError, StorageError
from modelog.registry.locations import registry_home as registry_home  # re-exported: callers import them here
from modelog.registry.locations import resolve_url as resolve_url
from modelog.registry.urls import normalise_url
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url

WRITE_OPTION = "modelog_write"
#: Advisory lock key that serialises appends on PostgreSQL.
APPEND_LOCK_KEY = 4242002
APPEND_LOCK_SQL = f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})"
#: SQLSTATE of a lock wait cut short by ``lock_timeout``.
LOCK_NOT_AVAILABLE = "55P03"
#: PostgreSQL session limits (ms): how long to wait for a lock, how long a session may sit idle inside a
#: transaction (a stalled writer holding the append lock is cut off after it), and their variables.
SESSION_LIMITS = (
    ("lock_timeout", "MODELOG_LOCK_TIMEOUT_MS", 10_000),
    ("idle_in_transaction_session_timeout", "MODELOG_IDLE_TRANSACTION_TIMEOUT_MS", 30_000),
)
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def is_sqlite(url_or_engine: str | Engine) -> bool:
    """True when the URL or engine points at SQLite."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine.dialect.name == "sqlite"
    return url_or_engine.startswith("sqlite")


def create_engine_for(
    url: str,
    *,
    synchronous: str | None = None,
    busy_timeout_ms: int = 30_000,
    statement_timeout_ms: int | None = None,
) -> Engine:
    """Create a configured engine for ``url`` (SQLite file or PostgreSQL).

    On PostgreSQL ``statement_timeout_ms`` defaults to ``$MODELOG_STATEMENT_TIMEOUT_MS``, else 60 s.
    """
    url = normalise_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url, synchronous or os.environ.get("MODELOG_SQLITE_SYNCHRONOUS", "FULL"), busy_timeout_ms)
    return _server_engine(url, statement_timeout_ms)


def _sqlite_engine(url: str, synchronous: str, busy_timeout_ms: int) -> Engine:
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        choices = ", ".join(SYNCHRONOUS_LEVELS)
        raise StorageError(f"unknown SQLite synchronous level {synchronous!r}; use one of {choices}")
    _ensure_parent_dir(url)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        if ":memory:" not in url and url.rstrip("/") != "sqlite:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write transaction takes the lock up front: a deferred one that reads and
        # then writes fails with "database is locked" instead of waiting its turn.
        mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        begin_on_cursor(conn, mode)  # on the driver's cursor: SQLAlchemy's statement set-up costs more than BEGIN

    return engine


def _ensure_parent_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _server_engine(url: str, statement_timeout_ms: int | None) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args = _postgres_connect_args(url, statement_timeout_ms)
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)
    if url.startswith("postgresql"):
        event.listen(engine, "begin", _queue_writer)
    return engine


def _queue_writer(conn: Connection) -> None:
    # Like SQLite's BEGIN IMMEDIATE: a write transaction queues for the append lock before it
    # reads, so it decides on state nobody can change before it commits. Without this, writers
    # contending for one stream keep invalidating each other's reads and exhaust their retries.
    if conn.get_execution_options().get(WRITE_OPTION):
        take_append_lock(conn)


def take_append_lock(conn: Connection) -> None:
    """Wait for PostgreSQL's append lock (at most ``lock_timeout``); on timeout say which session holds it."""
    try:
        conn.exec_driver_sql(APPEND_LOCK_SQL)
    except sa_exc.OperationalError as error:
        if _sqlstate(error) != LOCK_NOT_AVAILABLE:
            raise
        from modelog.registry.lock_holders import append_lock_refusal  # only on this rare path

        raise StorageError(append_lock_refusal(conn.engine)) from error


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def append_lock_taken_at_begin(conn: Connection) -> bool:
    """True when ``conn``'s write transaction already holds the PostgreSQL append lock (taken at BEGIN)."""
    return bool(conn.get_execution_options().get(WRITE_OPTION)) and event.contains(conn.engine, "begin", _queue_writer)


def statement_timeout(explicit_ms: int | None = None) -> int:
    """The PostgreSQL statement timeout in ms: ``explicit_ms``, else ``$MODELOG_STATEMENT_TIMEOUT_MS``, else 60 s."""
    if explicit_ms is not None:
        return int(explicit_ms)
    return milliseconds_setting("MODELOG_STATEMENT_TIMEOUT_MS", 60_000)


def milliseconds_setting(variable: str, default: int) -> int:
    """A whole number of milliseconds from the environment variable ``variable`` (``default`` when unset)."""
    raw = os.environ.get(variable, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise StorageError(f"{variable} must be a whole number of milliseconds, not {raw!r}")
    return value


def _postgres_connect_args(url: str, statement_timeout_ms: int | None) -> dict[str, Any]:
    # Options given in the URL's query string (?options=...) are kept; ours come last and win.
    query = make_url(url).query
    given = query.get("options", "")
    given = given if isinstance(given, str) else " ".join(given)
    limits = "".join(f" -c {name}={milliseconds_setting(variable, default)}"
                     for name, variable, default in SESSION_LIMITS if f"{name}=" not in given)  # the URL's win
    options = f"{given} -c statement_timeout={statement_timeout(statement_timeout_ms)}{limits}".strip()
    args: dict[str, Any] = {"options": options}
    if "application_name" not in query:
        args["application_name"] = "modelog"
    return args


#: Error texts of failures worth retrying after a short back-off.
_TRANSIENT_MARKERS = (
    "database is locked",
    "deadlock detected",
    "could not serialize access",
    "server closed the connection",
    "connection reset",
    "terminating connection",
    "connection is closed",
    "ssl connection has been closed",
)


#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, server shutdown or restart
#: (57P01 is also what a session killed by pg_terminate_backend gets); class 08 is any lost connection.
_TRANSIENT_SQLSTATES = ("40001", "40P01", "57P01", "57P02", "57P03")
_TRANSIENT_SQLSTATE_CLASSES = ("08",)


def is_transient(error: BaseException) -> bool:
    """True for failures another attempt may cure (lock timeouts, deadlocks, dropped connections)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None and (state in _TRANSIENT_SQLSTATES or state[:2] in _TRANSIENT_SQLSTATE_CLASSES):
        return True
    text = str(error).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def describe_db_error(error: sa_exc.DBAPIError) -> str:
    """A one-line description of a database failure, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"database error: {first}"


@contextmanager
def transaction(engine: Engine, *, write: bool = False, snapshot: bool = False) -> Iterator[Connection]:
    """A transaction on a pooled connection; ``write=True`` takes the write lock first on SQLite.

    ``snapshot=True``: every statement sees the same committed state (PostgreSQL REPEATABLE READ;
    a SQLite read transaction already does), for passes that compare one read with another.
    """
    try:
        conn = engine.connect()
    except sa_exc.DBAPIError as error:
        raise StorageError(describe_db_error(error)) from error
    if write:
        conn = conn.execution_options(**{WRITE_OPTION: True})
    if snapshot and engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        with conn.begin():
            yield conn
    except sa_exc.DBAPIError as error:
        raise StorageError(describe_db_error(error)) from error
    finally:
        conn.close()


class WriterConnection:
    """One connection kept for a writer's transactions, one after another (never two at once).

    Checking a connection out of the pool for every command (and, on PostgreSQL, pinging it)
    cost more than the command's own statements. The writer keeps one instead and begins each
    transaction on it. After any failure that is not a refused command (a database error, an
    interrupt), the connection is closed, and the next transaction starts on a fresh one, as a
    pooled checkout would. Callers serialise their use of it (the command service holds its lock).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        _release_on_dispose(engine, weakref.ref(self))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (the write lock taken first, as ``transaction(write=True)``) on the kept connection."""
        conn = self._conn if self._conn is not None else self._open()
        try:
            with conn.begin():
                yield conn
        except RegistryError as error:
            if isinstance(error, StorageError):  # the database failed somewhere below: start afresh
                self.close()
            raise  # otherwise a refusal: rolled back, the connection is as good as before
        except sa_exc.DBAPIError as error:
            self.close()
            raise StorageError(describe_db_error(error)) from error
        except BaseException:
            self.close()
            raise

    def _open(self) -> Connection:
        try:
            conn = self.engine.connect()
        except sa_exc.DBAPIError as error:
            raise StorageError(describe_db_error(error)) from error
        self._conn = conn.execution_options(**{WRITE_OPTION: True})
        return self._conn

    def close(self) -> None:
        """Give the connection back (the next transaction opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sa_exc.DBAPIError:
                conn.invalidate()

    def discard(self) -> None:
        """Close the database connection itself (its pool is gone: the engine was disposed)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()
            conn.close()


def _release_on_dispose(engine: Engine, writer: weakref.ref[WriterConnection]) -> None:
    """Disposing of the engine also closes a kept writer connection nobody closed (a file stays open otherwise)."""

    def release(_engine: Engine) -> None:
        found = writer()
        if found is not None:
            found.discard()

    event.listen(engine, "engine_disposed", release)


def lock_appends(conn: Connection) -> None:
    """Serialise with every other appender until ``conn``'s transaction ends (SQLite: its write lock does)."""
    if conn.dialect.name == "postgresql" and not append_lock_taken_at_begin(conn):
        take_append_lock(conn)
