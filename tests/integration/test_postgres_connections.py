"""Connection handling on PostgreSQL: a bounded pool per registry, and no server connection left behind
by repeated open/close, SDK pipeline runs or finished processes (counted in pg_stat_activity)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import pytest
from modelog.application.bootstrap import database_status, open_reader, open_registry, upgrade_database
from modelog.registry import commands as cmd

from modelog import Client, ModelConfig, pipeline, step
from tests.integration.pg_support import postgres_url_or_skip, session_pids, side_connection

REPO = Path(__file__).resolve().parents[2]
POOL_LIMIT = 10  # pool_size 5 + max_overflow 5 (registry.database)


@pytest.fixture
def pg_url() -> str:
    """An empty PostgreSQL test database."""
    return postgres_url_or_skip()


def connections(url: str, settle: float = 10.0, expect: int | None = None) -> int:
    """Server sessions on the test database other than the observer's own.

    A process that exits closes its sockets at once, but the server notices a moment
    later; with ``expect`` the count is polled until it matches (or ``settle`` passes).
    """
    deadline = time.monotonic() + settle
    with side_connection(url) as observer:
        while True:
            count = len(session_pids(observer, url))
            if expect is None or count == expect or time.monotonic() > deadline:
                return count
            time.sleep(0.05)


@step
def make_numbers() -> Annotated[list, "numbers"]:
    """A small output."""
    return [1, 2, 3]


@pipeline(enable_cache=False, model_config=ModelConfig(name="leaky", create_new_model_version=True))
def tiny() -> None:
    """One step, one new model version."""
    make_numbers()


def test_open_and_close_many_times_leaves_no_connection(pg_url: str, tmp_path: Path) -> None:
    assert connections(pg_url) == 0
    for i in range(15):
        with open_registry(pg_url, home=tmp_path) as registry:
            registry.commands.execute(cmd.RegisterModel(name=f"model-{i}"))
            assert len(registry.reads.list_models().items) == i + 1
            assert 1 <= connections(pg_url) <= POOL_LIMIT
        assert connections(pg_url, expect=0) == 0
    for _ in range(5):
        with open_reader(pg_url, home=tmp_path) as reader:
            assert reader.store.head() > 0
        database_status(pg_url)
        upgrade_database(pg_url)
        assert connections(pg_url, expect=0) == 0


def test_sdk_pipeline_runs_reuse_one_bounded_pool_and_release_it(pg_url: str, tmp_path: Path) -> None:
    with Client(pg_url, home=tmp_path):
        tiny()
        tiny()  # by now the writer keeps its connection and a run's reads (the name check) have used the pool
        warmed = connections(pg_url)
        for _ in range(8):
            tiny()
            assert connections(pg_url) <= max(warmed, 1) <= POOL_LIMIT
    assert connections(pg_url, expect=0) == 0
    with open_registry(pg_url, home=tmp_path) as registry:
        assert [v.number for v in registry.reads.list_versions("leaky")] == list(range(1, 11))


def test_finished_processes_leave_no_connection(pg_url: str, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from modelog.registry import commands as cmd\n"
        "from modelog.application.bootstrap import open_registry\n"
        "registry = open_registry(sys.argv[1], home=sys.argv[2])\n"  # never closed: the process just ends
        "registry.commands.execute(cmd.RegisterModel(name='m-' + sys.argv[3]))\n"
    )
    for i in range(5):
        subprocess.run([sys.executable, "-c", script, pg_url, str(tmp_path), str(i)], cwd=REPO, check=True)
        assert connections(pg_url, expect=0) == 0
    with open_registry(pg_url, home=tmp_path) as registry:
        assert registry.reads.list_models().total == 5
