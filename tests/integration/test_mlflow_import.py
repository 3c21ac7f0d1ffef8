"""``modelog import-mlflow``: a real MLflow registry (filled by MLflow's own client) copied into the log.

The MLflow side runs in its own virtualenv (tests/mlflow_support.py): the registry is made once per
session with ``MlflowClient`` against SQLite (tests/mlflow_seed.py says what it holds), read
straight from that database, and through a real ``mlflow server`` on it. Every test runs on both
backends of the destination registry.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from modelog.application.api import RegistryAPI
from modelog.application.local import connect
from modelog.application.mlflow_import import execute, import_registry
from modelog.application.mlflow_plan import VersionStep, plan_import
from modelog.application.mlflow_records import read_registry
from sqlalchemy import MetaData, create_engine

from tests.cli_support import run
from tests.mlflow_support import mlflow_server, seed_registry
from tests.server_support import ServerProcess, free_port

Seeded = tuple[Path, dict[str, Any]]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The MLflow registry of tests/mlflow_seed.py, and what MLflow reports of its live versions."""
    return seed_registry(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def server_url(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` serving (a copy of) the seeded registry."""
    with mlflow_server(seeded[0], tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture
def api(registry: Any, db_url: str, home: Path) -> Iterator[RegistryAPI]:
    """The destination registry's service API (fresh on the backend under test)."""
    with connect(db_url, home=home) as opened:
        yield opened


def _import(*args: str) -> dict[str, Any]:
    done = run("import-mlflow", *args, "-o", "json")
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout))


def _versions(api: RegistryAPI, model: str) -> list[tuple[int, str, tuple[str, ...], str | None]]:
    return [(v.number, v.stage, v.aliases, v.description) for v in api.list_versions(model)]


def _check_registry(api: RegistryAPI, seen: dict[str, Any], source: str, *, deleted: list[int]) -> None:
    """The registry holds the seeded MLflow registry as tests/mlflow_seed.py describes it."""
    assert sorted(m.name for m in api.list_models().items) == ["churn", "empty", "fraud"]
    churn = api.get_model("churn")
    assert churn.description == "Predicts churn"
    assert churn.tags[0] == "team=growth"  # 'data/source=warehouse' cannot be a modelog tag
    assert [t.split("=")[0] for t in churn.tags[1:]] == ["mlflow.creation_timestamp", "mlflow.last_updated_timestamp"]
    assert _versions(api, "churn") == [(1, "none", (), "churn v1"), (3, "archived", ("previous",), "churn v3"),
                                       (4, "staging", (), "churn v4"), (5, "production", ("champion",), "churn v5")]
    assert _versions(api, "fraud") == [(1, "archived", (), None), (2, "none", (), None)]
    assert api.list_versions("empty") == []
    assert api.get_version("churn", 1).tags == ("candidate=yes", "reviewed")
    assert len(seen["churn"]["1"]["run_id"]) == 32 and seen["churn"]["3"]["run_id"] is None
    for model, versions in seen.items():
        for number, facts in versions.items():
            metadata = api.describe_version(model, int(number)).metadata
            assert metadata["mlflow.version"] == int(number)
            assert metadata["mlflow.creation_timestamp"] == facts["creation_timestamp"]
            assert metadata["mlflow.last_updated_timestamp"] == facts["last_updated_timestamp"]
            assert metadata["mlflow.source"] == facts["source"]
            assert metadata["mlflow.current_stage"] == facts["stage"]
            assert metadata.get("mlflow.run_id") == facts["run_id"]
            assert metadata["mlflow.imported_from"] == source
    history = api.history("churn")
    created = [e.data["number"] for e in history if e.event_type == "ModelVersionCreated"]
    assert created == list(range(1, 6 + (6 in deleted)))
    assert [e.data["number"] for e in history if e.event_type == "ModelVersionDeleted"] == deleted
    assert {e.actor for e in history} == {"tester"}


def test_import_from_the_database_then_rerun_imports_nothing(api: RegistryAPI, seeded: Seeded) -> None:
    database, seen = seeded
    uri = f"sqlite:///{database}"
    planned = _import("--from", uri, "--dry-run")
    assert api.log_head().position == 0  # a dry run writes nothing
    assert (planned["dry_run"], planned["models_registered"], planned["versions_created"],
            planned["deleted_versions_recorded"]) == (True, 3, 6, 2)
    assert [(s["step"], s["model"], s["mlflow_version"]) for s in planned["steps"]][:3] == [
        ("register model", "churn", ""), ("create version", "churn", 1), ("record deleted version", "churn", 2)]

    done = _import("--from", uri)
    assert (done["ok"], done["models_registered"], done["versions_created"], done["deleted_versions_recorded"]) \
        == (True, 3, 6, 2)
    assert {(n["model"], n["mlflow_version"]) for n in done["notes"]} == {("churn", None), ("churn", 3), ("churn", 1)}
    assert any("imported as archived" in n["note"] for n in done["notes"])
    _check_registry(api, seen, uri, deleted=[2, 6])
    head = api.log_head().position
    assert api.verify_log(rules=True).ok

    again = _import("--from", uri)
    assert (again["steps"], again["models_present"], again["versions_present"], again["notes"]) == ([], 3, 8, [])
    assert api.log_head().position == head

    table = run("model", "history", "churn")
    assert table.exit_code == 0
    assert "mlflow.version=5" in table.stdout and "deleted version 6" in table.stdout


def test_import_from_a_running_mlflow_server(api: RegistryAPI, seeded: Seeded, server_url: str) -> None:
    done = _import("--from", server_url)
    # A server shows no deleted versions: 2 is a gap, kept as a deleted version; 6 (the last) is unseen.
    assert (done["models_registered"], done["versions_created"], done["deleted_versions_recorded"]) == (3, 6, 1)
    _check_registry(api, seeded[1], server_url, deleted=[2])
    head = api.log_head().position
    again = _import("--from", server_url)
    assert (again["steps"], again["versions_present"]) == ([], 7)
    assert api.log_head().position == head
    human = run("import-mlflow", "--from", server_url)
    assert human.exit_code == 0
    assert "0 model(s) registered, 0 version(s) created" in human.stdout


def test_import_from_an_mlflow_database_on_postgresql(api: RegistryAPI, backend: str, db_url: str,
                                                      seeded: Seeded) -> None:
    if backend != "postgres":
        pytest.skip("MLflow's database on PostgreSQL: the PostgreSQL leg")
    # MLflow's registry tables with MLflow's rows, copied into a schema of the test database (MLflow's own
    # virtualenv has no PostgreSQL driver to create them itself).
    source = create_engine(f"sqlite:///{seeded[0]}")
    tables = MetaData()
    tables.reflect(source, only=["registered_models", "registered_model_tags", "registered_model_aliases",
                                 "model_versions", "model_version_tags"])
    target = create_engine(db_url)
    try:
        with target.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS mlflow_copy CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA mlflow_copy")
        for table in tables.sorted_tables:
            table.schema = "mlflow_copy"
        tables.create_all(target)
        with source.connect() as read, target.begin() as write:
            for table in tables.sorted_tables:
                rows = [dict(r) for r in read.exec_driver_sql(f'SELECT * FROM "{table.name}"').mappings()]
                if rows:
                    write.execute(table.insert(), rows)
        uri = db_url.replace("postgresql+psycopg://", "postgresql://") + "?options=-csearch_path%3Dmlflow_copy"
        done = _import("--from", uri)
        assert (done["models_registered"], done["versions_created"], done["deleted_versions_recorded"]) == (3, 6, 2)
        _check_registry(api, seeded[1], done["source"], deleted=[2, 6])
        assert _import("--from", uri)["steps"] == []
    finally:
        with target.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS mlflow_copy CASCADE")
        target.dispose()
        source.dispose()


def test_an_interrupted_import_resumes(api: RegistryAPI, seeded: Seeded) -> None:
    source = read_registry(f"sqlite:///{seeded[0]}")
    plan = plan_import(api, source)
    # Stop after creating churn's version 5, before its stage and alias were set (they are a second step).
    cut = next(i for i, s in enumerate(plan.steps) if isinstance(s, VersionStep) and s.mlflow_number == 5)
    last = plan.steps[cut]
    assert isinstance(last, VersionStep)
    plan.steps[cut:] = [replace(last, stage=None, aliases=())]
    assert execute(api, plan).ok
    assert _versions(api, "churn")[-1] == (5, "none", (), "churn v5")

    resumed = import_registry(api, source)
    assert resumed.ok
    assert (resumed.count("models"), resumed.count("versions"), resumed.count("deleted"), resumed.count("finished")) \
        == (2, 2, 1, 1)
    assert _versions(api, "churn")[-1] == (5, "production", ("champion",), "churn v5")
    assert [v.number for v in api.list_versions("churn")] == [1, 3, 4, 5]
    assert import_registry(api, source).plan.steps == []


def test_a_model_with_versions_of_its_own_gets_the_next_numbers(api: RegistryAPI, seeded: Seeded) -> None:
    api.register_model("fraud")
    api.create_version("fraud", description="made in modelog")
    done = _import("--from", f"sqlite:///{seeded[0]}")
    assert ("fraud", 1) in {(n["model"], n["mlflow_version"]) for n in done["notes"]}
    assert _versions(api, "fraud") == [(1, "none", (), "made in modelog"), (2, "archived", (), None),
                                       (3, "none", (), None)]
    assert api.describe_version("fraud", 3).metadata["mlflow.version"] == 2
    assert _import("--from", f"sqlite:///{seeded[0]}")["steps"] == []


def test_items_the_registry_refuses_are_listed_the_rest_imported_exit_1(api: RegistryAPI, seeded: Seeded) -> None:
    api.register_model("\u0441\u043d\u0446\u0433\u043f")  # Cyrillic, looks like 'churn': churn is refused
    done = run("import-mlflow", "--from", f"sqlite:///{seeded[0]}")
    assert done.exit_code == 1
    assert "Failed: 'churn': model name 'churn' looks like the name of the existing model" in done.output
    assert done.output.count("Failed: 'churn' version") == 6
    assert done.output.splitlines()[-1] == ("Error: 7 item(s) could not be imported (listed above); everything else "
                                            "was, and running the command again resumes")
    assert sorted(m.name for m in api.list_models().items) == ["empty", "fraud", "\u0441\u043d\u0446\u0433\u043f"]
    assert len(api.list_versions("fraud")) == 2


def test_import_into_a_team_server(api: RegistryAPI, seeded: Seeded, db_url: str, home: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server = ServerProcess(db_url, home)
    try:
        monkeypatch.setenv("MODELOG_URL", server.url)
        monkeypatch.setenv("MODELOG_TOKEN", server.token)
        monkeypatch.setenv("MODELOG_ACTOR", "someone-else")  # the server records the token's principal
        uri = f"sqlite:///{seeded[0]}"
        done = _import("--from", uri)
        assert (done["models_registered"], done["versions_created"], done["deleted_versions_recorded"]) == (3, 6, 2)
        assert _import("--from", uri)["steps"] == []
    finally:
        server.stop()
    _check_registry(api, seeded[1], uri, deleted=[2, 6])


class _NotMlflow(http.server.BaseHTTPRequestHandler):
    """A web server that is not MLflow: 404 for everything, 401 under /private."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(401 if self.path.startswith("/private") else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


@pytest.fixture
def other_web_server() -> Iterator[str]:
    """A plain HTTP server on a free port (not an MLflow server)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bad_sources_are_one_line_exit_1_and_write_nothing(api: RegistryAPI, backend: str, tmp_path: Path,
                                                          other_web_server: str) -> None:
    plain = tmp_path / "other.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
    missing = tmp_path / "missing.db"
    cases = [
        (f"sqlite:///{missing}", "there is no MLflow database file"),
        (f"sqlite:///{plain}", "is not an MLflow tracking database: it has no table registered_models"),
        (f"http://127.0.0.1:{free_port()}", "cannot reach the MLflow server at"),
        (other_web_server, "is not an MLflow tracking server with a model registry"),
        (other_web_server + "/private", "refused the request (HTTP 401)"),
        ("ftp://example.org/x", "is not an MLflow tracking URI"),
        ("http://user:secret@127.0.0.1:1", "cannot reach the MLflow server at http://127.0.0.1:1"),
    ]
    if backend == "postgres":
        cases.append(("postgresql://postgres@127.0.0.1:5432/modelog_no_such_mlflow_db",
                      'database "modelog_no_such_mlflow_db" does not exist'))
    for uri, expected in cases:
        for dry in ((), ("--dry-run",)):
            done = run("import-mlflow", "--from", uri, *dry)
            assert done.exit_code == 1, (uri, done.output)
            lines = [line for line in done.output.splitlines() if line.startswith("Error:")]
            assert len(lines) == 1 and expected in lines[0], (uri, done.output)
            assert "Traceback" not in done.output and "secret" not in done.output
    assert not missing.exists()
    assert api.log_head().position == 0
