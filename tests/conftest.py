"""Shared fixtures: a fresh registry database per test on every selected backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import backends

os.environ.setdefault("MODELOG_ACTOR", "tester")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that asks for ``backend`` over the selected backends."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", backends.selected_backends(), indirect=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL database the session created for itself (none when MODELOG_TEST_POSTGRES_URL is set)."""
    backends.drop_own_databases()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test; PostgreSQL skips (or fails under CI) when unreachable."""
    name = str(request.param)
    if name == "postgres":
        backends.require_postgres()
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> str:
    """A URL to an empty database on the backend under test."""
    if backend == "postgres":
        return backends.reset_postgres()
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELOG_HOME (artifacts live here; the database too on SQLite)."""
    path = tmp_path / "home"
    monkeypatch.setenv("MODELOG_HOME", str(path))
    return path


@pytest.fixture
def registry(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An open registry on a fresh database of the backend under test."""
    from modelog.application.bootstrap import open_registry

    monkeypatch.setenv("MODELOG_DATABASE_URL", db_url)
    reg = open_registry(db_url, home=home, actor="tester")
    yield reg
    reg.close()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures structlog globally; give every later test the defaults back."""
    yield
    import structlog

    structlog.reset_defaults()
