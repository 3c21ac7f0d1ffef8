"""An append's row writes on the driver's cursor: what SQLAlchemy would see and raise, nothing less.

``registry._sql.driver.write_on_cursor`` runs the event row and the view, twin and stamp writes of
a command on a DB-API cursor. These tests pin what must not change with it: listeners on cursor
executes still see every write, and a write the database refuses is one clear line with nothing
written, the kept connection given back and the next command fine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.database import is_transient
from modelog.registry.errors import StorageError
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tests.reliability.support import check_log_and_views, snapshot

#: The writes one LinkArtifact makes besides the checkpoint: (table, statement kind). The link view is the
#: open rows of its twin (schema 10): the twin row is the link's one row.
LINK_WRITES = [("events", "INSERT"), ("hist_artifact_links", "INSERT"), ("hist_stamps", "INSERT"),
               ("view_versions", "UPDATE"), ("view_models", "UPDATE")]


def _link(i: int) -> cmd.LinkArtifact:
    return cmd.LinkArtifact(model="m", version=1, pipeline="train", step="fit", name=f"out{i}", kind="data",
                            artifact_id=f"00000000-0000-0000-0000-{i:012d}", artifact_name="weights",
                            artifact_version=1, content_hash=f"sha256:{i:064x}")


def _setup(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="m"))
    registry.commands.execute(cmd.CreateVersion(model="m"))


def _writes_in(statements: list[str]) -> set[tuple[str, str]]:
    found = set()
    for sql in statements:
        words = sql.split()
        kind = words[0].upper()
        if kind == "INSERT":
            found.add((words[2].strip('"'), kind))
        elif kind == "UPDATE":
            found.add((words[1].strip('"'), kind))
    return found


def test_without_listeners_the_writes_bypass_sqlalchemys_statement_set_up(
        registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(registry)
    through: list[str] = []
    original = Connection.exec_driver_sql

    def recording(self: Connection, statement: str, *args: Any, **kw: Any) -> Any:
        through.append(statement)
        return original(self, statement, *args, **kw)

    monkeypatch.setattr(Connection, "exec_driver_sql", recording)
    registry.commands.execute(_link(1))
    assert not _writes_in(through) & set(LINK_WRITES)
    assert [link.name for link in registry.reads.list_links("m", 1)] == ["out1"]


def test_a_cursor_listener_sees_every_write_of_a_command(registry: Any) -> None:
    _setup(registry)
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(registry.engine, "before_cursor_execute", listener)
    try:
        registry.commands.execute(_link(1))
    finally:
        event.remove(registry.engine, "before_cursor_execute", listener)
    assert set(LINK_WRITES) <= _writes_in(seen)


def _deny_on_sqlite(registry: Any, table: str, kind: str) -> Callable[[], None]:
    """Make the writer's SQLite connection refuse ``kind`` on ``table`` (a real driver error, no listener) until lifted.

    (The connection goes back to the pool after the failure, still refusing: hence the lift.)
    """
    action = sqlite3.SQLITE_INSERT if kind == "INSERT" else sqlite3.SQLITE_UPDATE
    dbapi = registry.commands.writer.connection._conn.connection.dbapi_connection

    def authorize(code: int, arg1: str | None, *rest: Any) -> int:
        return sqlite3.SQLITE_DENY if code == action and arg1 == table else sqlite3.SQLITE_OK

    dbapi.set_authorizer(authorize)
    return lambda: dbapi.set_authorizer(None)


def _deny_on_postgres(db_url: str, table: str) -> Callable[[], None]:
    """A constraint no new or changed row of ``table`` meets (existing rows are not checked)."""
    admin = create_engine(db_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT refuse_writes CHECK (false) NOT VALID")

    def lift() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT refuse_writes")
        admin.dispose()
    return lift


@pytest.mark.parametrize(("table", "kind"), LINK_WRITES)
def test_a_write_the_database_refuses_is_one_line_and_leaves_nothing(
        registry: Any, db_url: str, backend: str, table: str, kind: str) -> None:
    if backend == "postgres" and table == "events":
        pytest.skip("a constraint the event row violates reads as a lost race (ConcurrencyError): store contract")
    _setup(registry)
    registry.commands.attempts = 1  # the refusal must surface, not be retried away
    before = snapshot(db_url)
    held = registry.commands.writer.connection._conn
    lift = _deny_on_sqlite(registry, table, kind) if backend == "sqlite" else _deny_on_postgres(db_url, table)
    try:
        with pytest.raises(StorageError) as refused:
            registry.commands.execute(_link(1))
    finally:
        lift()
    assert "\n" not in str(refused.value) and str(refused.value).startswith("database error:")
    assert snapshot(db_url) == before
    assert registry.commands.writer.connection._conn is None  # given back: the next command starts afresh
    registry.commands.execute(_link(1))
    assert registry.commands.writer.connection._conn is not held
    assert snapshot(db_url).head == before.head + 1
    assert not check_log_and_views(db_url)[1]



def test_a_connection_lost_during_a_write_on_the_cursor_is_a_transient_storage_error(
        registry: Any, db_url: str, backend: str) -> None:
    """PostgreSQL: the session dies inside the stamp insert (a trigger ends it): one line, nothing written,
    a failure the command service retries, and the next command runs on a fresh connection."""
    if backend != "postgres":
        pytest.skip("SQLite has no server session to lose")
    _setup(registry)
    registry.commands.attempts = 1
    before = snapshot(db_url)
    held = registry.commands.writer.connection._conn.connection.dbapi_connection
    admin = create_engine(db_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE FUNCTION end_session() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$")
        conn.exec_driver_sql("CREATE TRIGGER end_session BEFORE INSERT ON hist_stamps "
                             "FOR EACH ROW EXECUTE FUNCTION end_session()")
    try:
        with pytest.raises(StorageError) as lost:
            registry.commands.execute(_link(1))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER end_session ON hist_stamps")
            conn.exec_driver_sql("DROP FUNCTION end_session()")
        admin.dispose()
    cause = lost.value.__cause__
    assert "\n" not in str(lost.value) and isinstance(cause, DBAPIError) and is_transient(cause)
    assert cause.connection_invalidated and held.closed  # invalidated, as SQLAlchemy does: not back to the pool
    assert snapshot(db_url) == before
    registry.commands.execute(_link(1))
    assert snapshot(db_url).head == before.head + 1
    assert not check_log_and_views(db_url)[1]
