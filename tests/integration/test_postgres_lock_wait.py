"""Issue 12.11: a stalled writer holding PostgreSQL's append lock blocks others only briefly, and is named.

The holder is a real second session: a plain connection (another tool, a psql prompt) that took the
append lock and stays idle inside its transaction, or a modelog session that does the same. Waiters
give up after ``MODELOG_LOCK_TIMEOUT_MS`` with one line naming the holder; a modelog session idle
inside a transaction is cut off by the server after ``MODELOG_IDLE_TRANSACTION_TIMEOUT_MS``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from modelog.application.bootstrap import open_registry
from modelog.registry import commands as cmd
from modelog.registry.database import APPEND_LOCK_SQL, create_engine_for
from modelog.registry.errors import StorageError
from sqlalchemy import create_engine, text

from tests.integration.pg_support import postgres_url_or_skip


@pytest.fixture
def pg_url() -> str:
    """An empty PostgreSQL test database."""
    return postgres_url_or_skip()


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock waits of 0.5 s and idle transactions of 1.5 s for every engine the test creates."""
    monkeypatch.setenv("MODELOG_LOCK_TIMEOUT_MS", "500")
    monkeypatch.setenv("MODELOG_IDLE_TRANSACTION_TIMEOUT_MS", "1500")


def test_a_writer_waits_a_bounded_time_and_names_the_holder(pg_url: str, tmp_path: Path, short_waits: None) -> None:
    with open_registry(pg_url, home=tmp_path) as registry:
        registry.commands.execute(cmd.RegisterModel(name="before"))
        before = registry.store.head()
        holder = create_engine(pg_url, connect_args={"application_name": "stalled-writer"})
        try:
            with holder.connect() as stalled:
                stalled.execute(text("BEGIN"))
                stalled.exec_driver_sql(APPEND_LOCK_SQL)
                pid = stalled.execute(text("SELECT pg_backend_pid()")).scalar_one()
                started = time.monotonic()
                with pytest.raises(StorageError) as refused:
                    registry.commands.execute(cmd.RegisterModel(name="blocked"))
                waited = time.monotonic() - started
                stalled.rollback()
        finally:
            holder.dispose()
        message = str(refused.value)
        assert waited < 5, waited  # not the 60 s statement timeout
        assert "\n" not in message
        assert "append lock" in message and f"pid {pid}" in message and "'stalled-writer'" in message, message
        assert "idle in transaction" in message and "nothing was written" in message, message
        assert registry.store.head() == before
        registry.commands.execute(cmd.RegisterModel(name="blocked"))  # the holder is gone: it goes through
        assert registry.store.head() > before


def test_a_stalled_modelog_session_is_cut_off_and_others_go_on(pg_url: str, tmp_path: Path,
                                                               short_waits: None) -> None:
    stalled_engine = create_engine_for(pg_url)  # modelog's own session settings (idle-in-transaction limit)
    try:
        with stalled_engine.connect() as stalled:
            stalled.exec_driver_sql(APPEND_LOCK_SQL)  # takes the lock, then the "process" stops
            time.sleep(2.5)  # past MODELOG_IDLE_TRANSACTION_TIMEOUT_MS: the server ends that session
            with open_registry(pg_url, home=tmp_path) as registry:
                started = time.monotonic()
                registry.commands.execute(cmd.RegisterModel(name="after-the-stall"))
                assert time.monotonic() - started < 2
                assert registry.store.head() > 0
            with pytest.raises(Exception, match="idle-in-transaction|terminat|closed"):
                stalled.exec_driver_sql("SELECT 1")
    finally:
        stalled_engine.dispose()


def test_the_cli_says_what_blocks_it_in_one_line(pg_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "MODELOG_DATABASE_URL": pg_url, "MODELOG_HOME": str(tmp_path),
           "MODELOG_LOCK_TIMEOUT_MS": "400"}
    env.pop("MODELOG_URL", None)
    holder = create_engine(pg_url, connect_args={"application_name": "nightly-etl"})
    try:
        with holder.connect() as stalled:
            with open_registry(pg_url, home=tmp_path):
                pass  # the schema exists before the lock is taken
            stalled.execute(text("BEGIN"))
            stalled.exec_driver_sql(APPEND_LOCK_SQL)
            done = subprocess.run([sys.executable, "-m", "modelog.cli.main", "model", "register", "-n", "demo"],
                                  env=env, capture_output=True, text=True, timeout=60)
            stalled.rollback()
    finally:
        holder.dispose()
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: gave up after 400 ms waiting for the registry's append lock")
    assert "'nightly-etl'" in lines[0] and "Traceback" not in done.stderr
