"""Engines and transactions: where the registry's database lives and how it is opened.

Nothing here runs at import time; :func:`create_engine_for` is called by the one
composition root (``sdk.bootstrap``) or by tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from registry.errors import StorageError

WRITE_OPTION = "modelog_write"
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def registry_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The registry home: ``home``, else ``$MODELOG_HOME``, else ``~/.modelog``."""
    chosen = home or os.environ.get("MODELOG_HOME") or Path.home() / ".modelog"
    return Path(chosen).expanduser()


def resolve_url(url: str | None = None, home: str | os.PathLike[str] | None = None) -> str:
    """The database URL: ``url``, else ``$MODELOG_DATABASE_URL``, else a SQLite file in the home."""
    chosen = url or os.environ.get("MODELOG_DATABASE_URL")
    if chosen:
        return chosen
    return f"sqlite:///{registry_home(home) / 'registry.db'}"


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
    statement_timeout_ms: int = 60_000,
) -> Engine:
    """Create a configured engine for ``url`` (SQLite file or PostgreSQL)."""
    if is_sqlite(url):
        return _sqlite_engine(url, synchronous or os.environ.get("MODELOG_SQLITE_SYNCHRONOUS", "FULL"), busy_timeout_ms)
    return _server_engine(url, statement_timeout_ms)


def _sqlite_engine(url: str, synchronous: str, busy_timeout_ms: int) -> Engine:
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise StorageError(f"unknown SQLite synchronous level {synchronous!r}; use one of {', '.join(SYNCHRONOUS_LEVELS)}")
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
        conn.exec_driver_sql(mode)

    return engine


def _ensure_parent_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _server_engine(url: str, statement_timeout_ms: int) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)


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


def is_transient(error: BaseException) -> bool:
    """True for failures another attempt may cure (lock timeouts, deadlocks, dropped connections)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    text = str(error).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def describe_db_error(error: sa_exc.DBAPIError) -> str:
    """A one-line description of a database failure, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"database error: {first}"


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A transaction on a pooled connection; ``write=True`` takes the write lock first on SQLite."""
    conn = engine.connect()
    if write:
        conn = conn.execution_options(**{WRITE_OPTION: True})
    try:
        with conn.begin():
            yield conn
    except sa_exc.DBAPIError as error:
        raise StorageError(describe_db_error(error)) from error
    finally:
        conn.close()


def retry_transient(func: Any, *, attempts: int = 5, base_delay: float = 0.05) -> Any:
    """Call ``func()``, retrying transient storage failures with exponential back-off."""
    for attempt in range(attempts):
        try:
            return func()
        except StorageError as error:
            cause = error.__cause__
            if attempt == attempts - 1 or cause is None or not is_transient(cause):
                raise
            time.sleep(base_delay * (2**attempt))
    raise AssertionError("unreachable")
