"""Opening a SQLite registry that cannot be written: an auditor's copy, a read-only file or mount.

A write-ahead-log database normally needs its directory writable even to be read (SQLite
creates ``-wal`` and ``-shm`` files next to it). Opened with the URI ``mode=ro`` it can be
read while those files exist or can be created; when they cannot, ``immutable=1`` tells
SQLite nobody can change the file, so it reads it without any locking or shared memory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelog.registry.database import WRITE_OPTION, is_sqlite
from modelog.registry.errors import StorageError
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import QueuePool


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names (None for other backends and in-memory databases)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def read_only_reason(url: str) -> str | None:
    """Why the SQLite database at ``url`` cannot be written, naming it (None if it can, or is not SQLite)."""
    path = sqlite_file(url)
    if path is None:
        return None
    if not path.exists():
        parent = path.parent
        if parent.is_dir() and not os.access(parent, os.W_OK):
            return f"there is no registry database at {path} and its directory is read-only"
        return None
    return _why_unwritable(path)


def _why_unwritable(path: Path) -> str | None:
    if _on_read_only_mount(path):
        return f"the registry database {path} is on a read-only file system"
    if not os.access(path, os.W_OK):
        return f"the registry database {path} is a read-only file"
    if not os.access(path.parent, os.W_OK):
        return f"the directory of the registry database {path} is read-only"
    return None


def _on_read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens ``path`` for reading only (``immutable=1`` when no -shm file can exist)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    shm, wal = Path(f"{path}-shm"), Path(f"{path}-wal")
    if shm.exists() or (os.access(path.parent, os.W_OK) and not _on_read_only_mount(path)):
        return uri
    if wal.exists() and wal.stat().st_size > 0:
        # immutable=1 would ignore the -wal file and answer from an older state of the log.
        raise StorageError(f"the registry database {path} has un-checkpointed changes in {wal.name} but no "
                           f"{shm.name} file, and its directory is read-only; copy the three files somewhere writable")
    return uri + "&immutable=1"


def create_read_only_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine on the SQLite file at ``url`` that can only read it; any write fails with "readonly database"."""
    path = sqlite_file(url)
    if path is None:
        raise StorageError(f"only a SQLite file can be opened read-only, not {make_url(url).get_backend_name()}")
    if not path.exists():
        raise StorageError(f"there is no registry database at {path}")
    uri = read_only_uri(path)
    engine = create_engine("sqlite://", poolclass=QueuePool, creator=lambda: sqlite3.connect(
        uri, uri=True, timeout=busy_timeout_ms / 1000, check_same_thread=False))
    event.listen(engine, "connect", _configure)
    event.listen(engine, "begin", _begin)
    return engine


def _configure(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, as on a writable registry


def _begin(conn: Connection) -> None:
    mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
    conn.exec_driver_sql(mode)
