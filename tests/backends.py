"""Which database backends the tests run against, and fresh databases for each test.

SQLite (a real file) always runs. PostgreSQL runs against the database ``MODELOG_TEST_POSTGRES_URL``
names (it is reset between tests: use one made for the tests, as ``.ci/run`` does). Without it,
the tests create a database of their own with a unique name on the local server
(127.0.0.1:5432, user postgres), once per test session, and drop it at the end: no other
database on that server is ever touched. When the server is unreachable the PostgreSQL leg
skips on a laptop, and fails under CI (``CI=true``) or when ``MODELOG_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import secrets
from functools import cache

#: The server the tests create their own database on when no URL is given (its maintenance database).
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: Names of databases the tests create themselves start with this.
OWN_PREFIX = "modelog_test_"
_created: list[str] = []
ENABLE_HINT = (
    "PostgreSQL is not reachable; start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
    "or set MODELOG_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db; MODELOG_TEST_BACKENDS=sqlite skips it"
)


def postgres_url() -> str:
    """The PostgreSQL URL the tests use: ``MODELOG_TEST_POSTGRES_URL``, else a database of their own (created on
    first use, dropped by :func:`drop_own_databases` at the end of the session)."""
    given = os.environ.get("MODELOG_TEST_POSTGRES_URL")
    return given if given else _own_database()


@cache
def _own_database() -> str:
    return create_own_database(DEFAULT_SERVER_URL)


def create_own_database(server_url: str) -> str:
    """Create a database with a unique name on the server of ``server_url``; its URL (remembered for dropping)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"{OWN_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    _created.append(name)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_own_databases(server_url: str = DEFAULT_SERVER_URL) -> list[str]:
    """Drop every database this process created (only those); the names dropped."""
    from sqlalchemy import create_engine

    if not _created:
        return []
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    dropped = []
    try:
        with engine.connect() as conn:
            while _created:
                name = _created.pop()
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
    finally:
        engine.dispose()
    _own_database.cache_clear()
    return dropped


def postgres_required() -> bool:
    """True when an unreachable PostgreSQL must fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
        "MODELOG_REQUIRE_POSTGRES", ""
    ) in ("1", "true", "yes")


def selected_backends() -> list[str]:
    """Backends named by ``MODELOG_TEST_BACKENDS`` (default: sqlite,postgres)."""
    raw = os.environ.get("MODELOG_TEST_BACKENDS", "sqlite,postgres")
    return [b.strip() for b in raw.split(",") if b.strip()]


@cache
def postgres_problem() -> str | None:
    """None when the server answers, else why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(postgres_url(), connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def reset_postgres() -> str:
    """Empty the PostgreSQL test database (drop and recreate the public schema); return its URL.

    That database is the one ``MODELOG_TEST_POSTGRES_URL`` names, or the session's own (never another).
    """
    from sqlalchemy import create_engine

    url = postgres_url()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is unreachable, or fail it when it is required (CI)."""
    import pytest

    problem = postgres_problem()
    if problem is None:
        return
    message = f"{ENABLE_HINT} ({problem})"
    if postgres_required():
        pytest.fail(message)
    pytest.skip(message)
