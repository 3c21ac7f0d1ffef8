"""Which database backends the tests run against, and fresh databases for each test.

SQLite (a real file) always runs. PostgreSQL runs when ``MODELOG_TEST_POSTGRES_URL`` points
at a server (default: the local one on 127.0.0.1:5432, database ``test``). When the server
is unreachable the PostgreSQL leg skips on a laptop, and fails under CI (``CI=true``) or
when ``MODELOG_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
from functools import cache

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENABLE_HINT = (
    "PostgreSQL is not reachable; start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
    "or set MODELOG_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db; MODELOG_TEST_BACKENDS=sqlite skips it"
)


def postgres_url() -> str:
    """The PostgreSQL URL the tests use."""
    return os.environ.get("MODELOG_TEST_POSTGRES_URL", DEFAULT_PG_URL)


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
    """Empty the PostgreSQL test database (drop and recreate the public schema); return its URL."""
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
