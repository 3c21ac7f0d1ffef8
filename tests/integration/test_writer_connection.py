"""The command service's kept write connection, and small reads run on the driver's own cursor."""

from __future__ import annotations

from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.database import transaction
from modelog.registry.errors import ConflictError, StorageError
from modelog.registry.service import CommandService
from modelog.registry.store import EventStore, SqlWriter, SqlWriteSession
from sqlalchemy import event
from sqlalchemy.engine import Connection


def driver_connection(service: CommandService) -> Any:
    """The DB-API connection the service writes through now (None when it holds none)."""
    assert isinstance(service.writer, SqlWriter)
    held = service.writer.connection._conn
    return None if held is None else held.connection.dbapi_connection


def test_commands_write_through_one_kept_connection_until_close(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="m"))
    first = driver_connection(registry.commands)
    for _ in range(3):
        registry.commands.execute(cmd.CreateVersion(model="m"))
        assert driver_connection(registry.commands) is first
    with pytest.raises(ConflictError):  # a refusal rolls back and keeps the connection
        registry.commands.execute(cmd.RegisterModel(name="m"))
    assert driver_connection(registry.commands) is first
    registry.commands.close()
    assert driver_connection(registry.commands) is None
    registry.commands.execute(cmd.CreateVersion(model="m"))  # and the next command opens a new one
    assert [v.number for v in registry.reads.list_versions("m")] == [1, 2, 3, 4]


def test_a_database_error_drops_the_connection_and_the_next_command_starts_afresh(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="m"))
    before = registry.commands.writer.connection._conn
    failing = {"left": 1}

    def fail_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS") and failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("the disk went away")

    event.listen(registry.engine, "before_cursor_execute", fail_once)
    try:
        with pytest.raises((StorageError, RuntimeError)):
            registry.commands.execute(cmd.CreateVersion(model="m"))
    finally:
        event.remove(registry.engine, "before_cursor_execute", fail_once)
    assert driver_connection(registry.commands) is None  # given back, as a pooled checkout would be
    registry.commands.execute(cmd.CreateVersion(model="m"))
    assert registry.commands.writer.connection._conn is not before
    assert [v.number for v in registry.reads.list_versions("m")] == [1]
    assert registry.store.verify().ok


def test_disposing_the_engine_closes_a_writer_nobody_closed(registry: Any, backend: str) -> None:
    bare = CommandService(EventStore(registry.engine), actor="bare")
    bare.execute(cmd.RegisterModel(name="m"))
    held = driver_connection(bare)
    registry.close()
    assert driver_connection(bare) is None
    closed = held.closed if backend == "postgres" else _sqlite_closed(held)
    assert closed


def _sqlite_closed(connection: Any) -> bool:
    try:
        connection.execute("SELECT 1")
    except Exception as error:  # sqlite3.ProgrammingError: Cannot operate on a closed database
        return "closed" in str(error)
    return False


def test_small_reads_fall_back_to_sqlalchemy_when_the_driver_cursor_fails(
        registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.commands.execute(cmd.RegisterModel(name="m"))
    with transaction(registry.engine) as conn:
        head = registry.store.log_head(conn)

        class NoCursor:
            def cursor(self) -> Any:
                raise RuntimeError("no cursor today")

        class Broken:
            dbapi_connection = NoCursor()

        with monkeypatch.context() as patch:
            patch.setattr(Connection, "connection", property(lambda self: Broken()))
            assert SqlWriteSession(registry.store, conn).moved_since(head, 10) == (head, set())


def test_a_small_read_that_fails_both_ways_is_a_storage_error(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="m"))
    with pytest.raises(StorageError, match="events"), transaction(registry.engine, write=True) as conn:
        head = registry.store.log_head(conn)
        conn.exec_driver_sql("ALTER TABLE events RENAME TO events_gone")  # undone by the rollback
        SqlWriteSession(registry.store, conn).moved_since(head, 10)
    assert registry.store.head() == 2
