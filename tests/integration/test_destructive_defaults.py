"""Destructive defaults: the tests reset only a database of their own, the walkthrough refuses a registry it
did not create, and ``clean`` on a server database needs its name (covered in test_cli_admin.py too).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from modelog.application.local import connect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import backends

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = ROOT / "examples" / "model_control_plane" / "walkthrough.sh"


def _databases() -> set[str]:
    engine = create_engine(backends.DEFAULT_SERVER_URL)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def test_without_a_url_the_tests_use_a_database_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    if "postgres" not in backends.selected_backends():
        pytest.skip("PostgreSQL not selected")
    backends.require_postgres()
    assert not hasattr(backends, "DEFAULT_PG_URL")  # there is no shared default database any more
    given = os.environ.get("MODELOG_TEST_POSTGRES_URL")
    if given:
        assert backends.postgres_url() == given  # an explicit URL is used as it is
        monkeypatch.delenv("MODELOG_TEST_POSTGRES_URL")
    own = make_url(backends.postgres_url()).database
    try:
        assert own is not None and own.startswith(backends.OWN_PREFIX) and own != "test"
        assert own in _databases()
        assert backends.reset_postgres() == backends.postgres_url()
    finally:
        if given:  # the session itself does not use it: drop it now, as the session's end would
            assert backends.drop_own_databases() == [own]
            assert own not in _databases()


def _walk(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(["bash", str(WALKTHROUGH)], capture_output=True, text=True, timeout=300,
                          env={**env, "PATH": path, "PYTHON": sys.executable})


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    return {**env, "MODELOG_ACTOR": "walker", **values}


def test_walkthrough_refuses_a_registry_that_is_not_empty(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "team"
    with connect(db_url, home=home, writable=True) as api:
        api.register_model("team-model")
        head = api.log_head()
    done = _walk(_env(MODELOG_HOME=str(home), MODELOG_DATABASE_URL=db_url))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr == ("walkthrough: refusing to run against a registry that already holds 2 events; use a "
                           'fresh one (MODELOG_HOME="$(mktemp -d)" with MODELOG_DATABASE_URL unset)\n')
    with connect(db_url, home=home) as api:
        assert api.log_head() == head and api.get_model("team-model").name == "team-model"


def test_walkthrough_without_a_home_uses_a_fresh_registry_of_its_own(tmp_path: Path) -> None:
    env = _env(HOME=str(tmp_path / "user"), TMPDIR=str(tmp_path))
    done = _walk(env)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"Using a fresh registry in {tmp_path}/"), first
    assert not (tmp_path / "user" / ".modelog").exists()  # the user's default registry was not touched
