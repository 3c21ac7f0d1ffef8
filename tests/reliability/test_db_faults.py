"""Injected database faults: the k-th statement of an append fails, for every k.

The fault is raised by a ``before_cursor_execute`` listener on the registry's real engine (the
statement never reaches the database), or, on PostgreSQL, caused for real by terminating the
session's server process just before its k-th statement or its COMMIT. Whatever the k: a
one-line StorageError, nothing written (log head, checkpoint and every view row unchanged), the
log and views still verify, and the same command succeeds on the next attempt.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.errors import StorageError
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from tests.reliability.support import check_log_and_views, snapshot

MAX_STATEMENTS = 200


@dataclass
class Fault:
    """Fails the k-th statement of every transaction (``persistent``) or only of the first one."""

    engine: Engine
    k: int
    make: Callable[[Any], None]
    persistent: bool = False
    fired: int = 0
    counts: list[int] = field(default_factory=lambda: [0])

    def __enter__(self) -> Fault:
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, conn: Any) -> None:
        self.counts.append(0)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.counts[-1] += 1
        if self.counts[-1] == self.k and (self.persistent or not self.fired):
            self.fired += 1
            self.make(conn)


def _raise_sqlite(message: str) -> Callable[[Any], None]:
    def fail(conn: Any) -> None:
        raise sqlite3.OperationalError(message)
    return fail


def _raise_psycopg(kind: str, message: str) -> Callable[[Any], None]:
    def fail(conn: Any) -> None:
        import psycopg.errors

        raise getattr(psycopg.errors, kind)(message)
    return fail


def _terminate_session(admin: Engine) -> Callable[[Any], None]:
    """Really kill the PostgreSQL server process serving ``conn`` (the connection is lost mid-transaction)."""
    def fail(conn: Any) -> None:
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return fail


FAULTS = {
    "sqlite": {
        "disk I/O error": (lambda _: _raise_sqlite("disk I/O error"), "disk I/O error"),
        "database is locked": (lambda _: _raise_sqlite("database is locked"), "database is locked"),
        "database or disk is full": (lambda _: _raise_sqlite("database or disk is full"), "disk is full"),
    },
    "postgres": {
        "connection lost": (_terminate_session, "terminat|closed the connection"),
        "disk full": (lambda _: _raise_psycopg("DiskFull", "could not extend file: No space left on device"),
                      "No space left"),
        "lock timeout": (lambda _: _raise_psycopg("LockNotAvailable", "canceling statement due to lock timeout"),
                         "lock timeout"),
    },
}


def _setup(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="base"))
    for _ in range(2):
        registry.commands.execute(cmd.CreateVersion(model="base"))
    registry.commands.execute(cmd.SetStage(model="base", version=1, stage="production"))


def _commands(k: int, kind: str) -> list[cmd.Command]:
    """Commands touching one, two and three streams; each k gets fresh names so each can succeed."""
    tag = f"{abs(hash(kind)) % 1000}-{k}"
    return [
        cmd.RegisterModel(name=f"m-{tag}", tags=("x",)),
        cmd.SetStage(model="base", version=(2 if k % 2 else 1), stage="production", force=True),
        cmd.CreateVersion(model="base", name=f"v-{tag}"),
    ]


def _fault_every_statement(registry: Any, url: str, make: Callable[[Any], None], expect: str, kind: str) -> int:
    """Inject the fault at k = 1, 2, ... for each command until a k beyond its last statement; return faults."""
    registry.commands.attempts = 1  # no silent retry: every fault must surface (retries are tested below)
    injected = 0
    for k in range(1, MAX_STATEMENTS):
        fired_any = False
        for command in _commands(k, kind):
            before = snapshot(url)
            with Fault(registry.engine, k, make) as fault:
                try:
                    registry.commands.execute(command)
                except StorageError as error:
                    assert re.search(expect, str(error), re.I) and "\n" not in str(error), str(error)
            if not fault.fired:
                continue
            fired_any, injected = True, injected + 1
            assert snapshot(url) == before, f"fault at statement {k} of {type(command).__name__} left a trace"
            registry.commands.execute(command)  # the next attempt succeeds
            assert snapshot(url).head > before.head
        if not fired_any:
            break
    return injected


@pytest.fixture
def admin(backend: str, db_url: str) -> Any:
    engine = create_engine(db_url) if backend == "postgres" else None
    yield engine
    if engine is not None:
        engine.dispose()


@pytest.mark.parametrize("fault_name", ["first", "second", "third"])
def test_fault_at_every_statement(registry: Any, db_url: str, backend: str, admin: Any, fault_name: str) -> None:
    name, (factory, expect) = list(FAULTS[backend].items())[["first", "second", "third"].index(fault_name)]
    _setup(registry)
    injected = _fault_every_statement(registry, db_url, factory(admin), expect, name)
    assert injected >= 10, f"only {injected} faults injected"
    checked, problems = check_log_and_views(db_url)
    assert not problems
    print(f"\n{backend} {name}: {injected} faults injected, {checked} events verified, 0 lost")


def test_transient_fault_is_retried_once(registry: Any, db_url: str, backend: str, admin: Any) -> None:
    """A one-off lock/connection failure is retried by the command service: one command, one set of events."""
    _setup(registry)
    factory, _ = FAULTS[backend]["database is locked" if backend == "sqlite" else "connection lost"]
    retried = 0
    for k in range(1, MAX_STATEMENTS):  # every statement of the command, until k is past its last one
        before = snapshot(db_url)
        with Fault(registry.engine, k, factory(admin)) as fault:
            result = registry.commands.execute(cmd.RegisterModel(name=f"retried-{k}"))
        assert fault.fired <= 1
        assert snapshot(db_url).head == before.head + len(result.events) == before.head + 2
        if not fault.fired:
            break
        retried += 1
    assert retried >= 5, f"only {retried} statements faulted"
    assert not check_log_and_views(db_url)[1]


def test_persistent_lock_gives_clear_error(registry: Any, db_url: str, backend: str, admin: Any) -> None:
    """A lock that outlasts every retry surfaces as one clear StorageError; afterwards all is well."""
    _setup(registry)
    factory, expect = FAULTS[backend]["database is locked" if backend == "sqlite" else "lock timeout"]
    registry.commands.attempts = 3
    before = snapshot(db_url)
    with Fault(registry.engine, 2, factory(admin), persistent=True) as fault, \
            pytest.raises(StorageError, match=expect):
        registry.commands.execute(cmd.RegisterModel(name="locked-out"))
    assert fault.fired == 3 if backend == "sqlite" else fault.fired >= 1
    assert snapshot(db_url) == before
    registry.commands.execute(cmd.RegisterModel(name="locked-out"))


def test_fault_on_postgres_commit(registry: Any, db_url: str, backend: str, admin: Any) -> None:
    """The server process dies just before COMMIT: the transaction is gone, nothing written, retry works."""
    if backend != "postgres":
        pytest.skip("SQLite has no server session to lose at commit")
    _setup(registry)
    registry.commands.attempts = 1
    kill = _terminate_session(admin)
    before = snapshot(db_url)
    listener = lambda conn: kill(conn)  # noqa: E731
    event.listen(registry.engine, "commit", listener)
    try:
        with pytest.raises(StorageError):
            registry.commands.execute(cmd.RegisterModel(name="at-commit"))
    finally:
        event.remove(registry.engine, "commit", listener)
    assert snapshot(db_url) == before
    registry.commands.execute(cmd.RegisterModel(name="at-commit"))
    assert not check_log_and_views(db_url)[1]
