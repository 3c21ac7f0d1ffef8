"""Failures on a real PostgreSQL server: dropped connections, serialization failures and deadlocks are retried
a bounded number of times; anything else is one clear error with nothing half-written.

Failures are real server errors: sessions killed with ``pg_terminate_backend`` from another
connection, errors raised by the server with the SQLSTATE PostgreSQL uses, a real deadlock.
They are injected through a projector (run inside every append transaction, after the
events and the read-model rows were written) so a failed attempt must roll all of it back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from modelog.application.bootstrap import open_registry
from modelog.projections.rebuild import verify as verify_views
from modelog.registry import commands as cmd
from modelog.registry.database import create_engine_for, is_transient, transaction
from modelog.registry.errors import StorageError
from modelog.registry.store import StoredEvent
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from tests.integration.pg_support import postgres_url_or_skip, side_connection, terminate_sessions


@pytest.fixture
def pg_url() -> str:
    """An empty PostgreSQL test database."""
    return postgres_url_or_skip()


@pytest.fixture
def registry(pg_url: str) -> Iterator[Any]:
    """An open registry on PostgreSQL holding one model with one version."""
    with open_registry(pg_url, actor="tester") as reg:
        reg.commands.execute(cmd.RegisterModel(name="churn"))
        reg.commands.execute(cmd.CreateVersion(model="churn"))
        yield reg


class FailingProjector:
    """Runs ``fail(conn)`` in the first ``times`` append transactions, after the real projector wrote."""

    def __init__(self, fail: Any, times: int) -> None:
        self.fail, self.times, self.calls = fail, times, 0

    def project(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Fail while the budget lasts."""
        self.calls += 1
        if self.calls <= self.times:
            self.fail(conn)


def kill_own_session(url: str) -> Any:
    """A failure: another connection terminates this transaction's server session (admin, failover)."""
    def fail(conn: Connection) -> None:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with side_connection(url) as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar_one()
    return fail


def raise_sqlstate(code: str) -> Any:
    """A failure: the server raises an error with SQLSTATE ``code``."""
    def fail(conn: Connection) -> None:
        conn.exec_driver_sql(
            f"DO $$ BEGIN RAISE EXCEPTION 'injected failure' USING ERRCODE = '{code}'; END $$")
    return fail


def snapshot(registry: Any) -> list[tuple[int, str]]:
    """The log as (position, hash) pairs."""
    return [(e.position, e.hash) for e in registry.store.read_all()]


def assert_consistent(registry: Any) -> None:
    """Chain intact and read models equal to a fresh replay."""
    assert registry.store.verify().ok
    assert verify_views(registry.engine, registry.store).ok


def test_idle_pooled_connections_killed_by_the_server_are_replaced(pg_url: str, registry: Any) -> None:
    with side_connection(pg_url) as admin:
        assert terminate_sessions(admin, pg_url) >= 1  # the registry's pooled, idle connection(s)
    result = registry.commands.execute(cmd.CreateVersion(model="churn"))  # pool_pre_ping reconnects
    assert result.number == 2
    assert [v.number for v in registry.reads.list_versions("churn")] == [1, 2]
    assert_consistent(registry)


def test_session_killed_inside_a_command_is_retried_and_written_once(pg_url: str, registry: Any) -> None:
    before = snapshot(registry)
    injected = FailingProjector(kill_own_session(pg_url), times=2)
    registry.store.projectors.append(injected)
    result = registry.commands.execute(cmd.CreateVersion(model="churn"))
    assert injected.calls == 3
    assert result.number == 2
    after = snapshot(registry)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert [v.number for v in registry.reads.list_versions("churn")] == [1, 2]
    assert_consistent(registry)


@pytest.mark.parametrize("code", ["40001", "40P01"], ids=["serialization-failure", "deadlock"])
def test_serialization_failures_and_deadlocks_are_retried(registry: Any, code: str) -> None:
    before = snapshot(registry)
    injected = FailingProjector(raise_sqlstate(code), times=3)
    registry.store.projectors.append(injected)
    registry.commands.execute(cmd.SetStage(model="churn", version=1, stage="production"))
    assert injected.calls == 4
    assert len(snapshot(registry)) == len(before) + 1
    assert [v.stage for v in registry.reads.list_versions("churn")] == ["production"]
    assert_consistent(registry)


def test_retries_are_bounded_and_leave_nothing_written(registry: Any) -> None:
    before = snapshot(registry)
    injected = FailingProjector(raise_sqlstate("40001"), times=10_000)
    registry.store.projectors.append(injected)
    with pytest.raises(StorageError, match="injected failure"):
        registry.commands.execute(cmd.CreateVersion(model="churn"))
    assert injected.calls == registry.commands.attempts
    assert snapshot(registry) == before
    assert [v.number for v in registry.reads.list_versions("churn")] == [1]
    assert_consistent(registry)


def test_other_database_errors_fail_at_once_with_one_clear_line_and_nothing_written(registry: Any) -> None:
    before = snapshot(registry)
    injected = FailingProjector(lambda conn: conn.exec_driver_sql("SELECT 1 / 0"), times=10_000)
    registry.store.projectors.append(injected)
    with pytest.raises(StorageError) as caught:
        registry.commands.execute(cmd.CreateVersion(model="churn"))
    assert str(caught.value) == "database error: division by zero"
    assert injected.calls == 1
    assert snapshot(registry) == before
    assert_consistent(registry)


def test_statement_timeout_is_set_and_ends_a_runaway_statement(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    default = create_engine_for(pg_url)
    with default.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "1min"
    default.dispose()
    monkeypatch.setenv("MODELOG_STATEMENT_TIMEOUT_MS", "300")
    with open_registry(pg_url) as registry:
        with pytest.raises(StorageError, match="statement timeout") as caught, transaction(registry.engine) as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")
        assert not is_transient(caught.value.__cause__)


def test_real_deadlocks_and_serialization_failures_count_as_transient(pg_url: str) -> None:
    engine = create_engine_for(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (id int PRIMARY KEY, n int)")
        conn.exec_driver_sql("INSERT INTO scratch VALUES (1, 0), (2, 0)")
    try:
        assert is_transient(_serialization_failure(engine))
        assert is_transient(_deadlock(engine))
    finally:
        engine.dispose()


def _serialization_failure(engine: Any) -> sa_exc.DBAPIError:
    with engine.connect() as first, engine.connect() as second:
        first.execution_options(isolation_level="REPEATABLE READ")
        first.begin()
        first.exec_driver_sql("SELECT n FROM scratch WHERE id = 1")
        with second.begin():
            second.exec_driver_sql("UPDATE scratch SET n = n + 1 WHERE id = 1")
        with pytest.raises(sa_exc.DBAPIError, match="could not serialize") as caught:
            first.exec_driver_sql("UPDATE scratch SET n = n + 1 WHERE id = 1")
        first.rollback()
    return caught.value


def _deadlock(engine: Any) -> sa_exc.DBAPIError:
    errors: list[BaseException] = []
    locked = threading.Barrier(2)

    def lock_in_order(first_id: int, second_id: int) -> None:
        with engine.connect() as conn:
            try:
                with conn.begin():
                    conn.execute(text("UPDATE scratch SET n = n + 1 WHERE id = :id"), {"id": first_id})
                    locked.wait(timeout=10)
                    conn.execute(text("UPDATE scratch SET n = n + 1 WHERE id = :id"), {"id": second_id})
            except sa_exc.DBAPIError as error:
                errors.append(error)

    threads = [threading.Thread(target=lock_in_order, args=order) for order in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1 and "deadlock detected" in str(errors[0])
    return errors[0]  # type: ignore[return-value]
