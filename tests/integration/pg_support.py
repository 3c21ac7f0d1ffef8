"""Helpers for the PostgreSQL-only tests: the server under test and a side connection that watches it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from tests import backends


def postgres_url_or_skip() -> str:
    """A freshly emptied PostgreSQL test database; skips (fails under CI) when unavailable or deselected."""
    if "postgres" not in backends.selected_backends():
        pytest.skip("PostgreSQL not selected (MODELOG_TEST_BACKENDS)")
    backends.require_postgres()
    return backends.reset_postgres()


def database_name(url: str) -> str:
    """The database part of ``url``."""
    return str(make_url(url).database)


@contextmanager
def side_connection(url: str) -> Iterator[Connection]:
    """An autocommit connection outside every engine under test (the observer, or the attacker)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def session_pids(conn: Connection, url: str) -> list[int]:
    """Backend pids of every other session connected to the database of ``url``."""
    rows = conn.execute(
        text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid() ORDER BY pid"),
        {"db": database_name(url)},
    )
    return [int(row.pid) for row in rows]


def terminate_sessions(conn: Connection, url: str) -> int:
    """Kill every other session on the database of ``url`` (what a failover or an admin does); how many."""
    pids = session_pids(conn, url)
    for pid in pids:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return len(pids)
