"""MLflow's own ``MlflowClient``, unchanged, against a real ``modelog server`` process, on both backends.

Scenarios: register, version, tag, alias, transition (with ``archive_existing_versions``), search
with filters and paging, delete, errors; then ``modelog model history`` shows each call as an
event by the token's principal, and ``--as-of`` answers match what the client saw at the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from modelog.application.local import connect

from tests.server_support import MODELOG, PRINCIPAL, ServerProcess, issue_token, serving

if os.environ.get("CI"):
    import mlflow  # CI installs the `mlflow` extra: a missing client is a failure there, never a skip
else:
    mlflow = pytest.importorskip("mlflow", reason="install the 'mlflow' extra to run the MLflow client tests")

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow deprecates its own stages API


@pytest.fixture
def server(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    with serving(db_url, tmp_path / "server-home") as running:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", running.token)
        yield running


def _client(server: ServerProcess) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def _modelog(server: ServerProcess, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    env.update(MODELOG_DATABASE_URL=server.db_url, MODELOG_HOME=str(server.home))
    done = subprocess.run([str(MODELOG), *args, "-o", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _error_code(call: Any) -> str:
    with pytest.raises(MlflowException) as caught:
        call()
    return str(caught.value.error_code)


def _seen(client: MlflowClient, model: str) -> dict[int, tuple[str, dict[str, str], list[str], str]]:
    """What the client sees of each version: stage, tags, aliases, source."""
    return {int(v.version): (v.current_stage, dict(v.tags), sorted(v.aliases), v.source)
            for v in client.search_model_versions(f"name = '{model}'")}


def _as_of(server: ServerProcess, model: str, moment: str) -> dict[int, tuple[str, dict[str, str], list[str], str]]:
    """The same, answered by ``modelog model version list --as-of``."""
    stages = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
    rows = _modelog(server, "model", "version", "list", model, "--as-of", moment)
    return {row["number"]: (stages[row["stage"]], dict(t.partition("=")[::2] for t in row["tags"]),
                            sorted(row["aliases"]), row["metadata"].get("mlflow.source", ""))
            for row in rows}


def _moment() -> str:
    time.sleep(0.02)  # the next call's events are recorded strictly later
    return datetime.now(UTC).isoformat()


def test_the_mlflow_client_works_unchanged_and_every_call_is_an_event(server: ServerProcess) -> None:
    client = _client(server)
    created = client.create_registered_model("fraud", tags={"team": "risk"}, description="card fraud")
    assert (created.name, created.tags, created.description) == ("fraud", {"team": "risk"}, "card fraud")
    v1 = client.create_model_version("fraud", source="s3://models/fraud/1", run_id="run-1", tags={"data": "2024q1"})
    assert (v1.version, v1.source, v1.run_id, v1.status, v1.tags, v1.user_id) == \
        ("1", "s3://models/fraud/1", "run-1", "READY", {"data": "2024q1"}, PRINCIPAL)
    client.create_model_version("fraud", source="s3://models/fraud/2", run_id="run-2")
    client.transition_model_version_stage("fraud", "1", "Production")
    client.set_registered_model_alias("fraud", "champion", "1")
    first = _moment()
    seen_first = _seen(client, "fraud")
    assert seen_first[1][0] == "Production" and seen_first[1][2] == ["champion"]

    # promote 2 over 1 (archive_existing_versions is modelog's force), move the alias, retag
    promoted = client.transition_model_version_stage("fraud", "2", "Production", archive_existing_versions=True)
    assert promoted.current_stage == "Production"
    assert client.get_model_version("fraud", "1").current_stage == "Archived"
    client.set_registered_model_alias("fraud", "champion", "2")
    client.set_model_version_tag("fraud", "2", "validated", "yes")
    client.set_model_version_tag("fraud", "2", "validated", "twice")  # replaces the value, one command
    client.set_registered_model_tag("fraud", "team", "fraud-ops")
    client.update_model_version("fraud", "2", description="retrained")
    client.update_registered_model("fraud", description="card fraud, v2")
    assert client.get_model_version_by_alias("fraud", "champion").version == "2"
    assert client.get_model_version_download_uri("fraud", "2") == "s3://models/fraud/2"
    latest = {v.current_stage: v.version for v in client.get_latest_versions("fraud")}
    assert latest == {"Archived": "1", "Production": "2"}
    model = client.get_registered_model("fraud")
    assert (model.tags, model.aliases, model.description) == ({"team": "fraud-ops"}, {"champion": "2"},
                                                              "card fraud, v2")
    second = _moment()
    seen_second = _seen(client, "fraud")
    assert seen_second[2][1] == {"validated": "twice"}

    # deletes: a version, a tag, an alias (version numbers are never reused)
    client.delete_model_version_tag("fraud", "2", "validated")
    client.delete_registered_model_alias("fraud", "champion")
    client.delete_model_version("fraud", "1")
    v3 = client.create_model_version("fraud", source="s3://models/fraud/3")
    assert v3.version == "3"
    assert sorted(_seen(client, "fraud")) == [2, 3]

    # as-of answers match what the client saw at each moment
    assert _as_of(server, "fraud", first) == seen_first
    assert _as_of(server, "fraud", second) == seen_second

    # every call is an ordinary event by the token's principal
    history = _modelog(server, "model", "history", "fraud")
    assert {entry["actor"] for entry in history} == {PRINCIPAL}
    events = [entry["event"] for entry in history]
    assert events.count("ModelVersionCreated") == 3
    assert events.count("ModelVersionMetadataLogged") == 3  # source / run_id, with each version
    assert "ModelVersionStageChanged" in events and "ModelVersionAliasSet" in events
    assert "ModelVersionAliasRemoved" in events and "ModelVersionDeleted" in events
    assert events[-1] == "ModelVersionMetadataLogged"

    client.delete_registered_model("fraud")
    assert _error_code(lambda: client.get_registered_model("fraud")) == "RESOURCE_DOES_NOT_EXIST"
    assert _modelog(server, "model", "history", "fraud")[-1]["event"] == "ModelDeleted"


def test_a_rename_keeps_versions_aliases_stages_and_tags_and_the_history_shows_it(server: ServerProcess) -> None:
    client = _client(server)
    client.create_registered_model("fraud", tags={"team": "risk"}, description="card fraud")
    client.create_model_version("fraud", source="s3://models/fraud/1", run_id="run-1", tags={"data": "q1"})
    client.create_model_version("fraud", source="s3://models/fraud/2")
    client.transition_model_version_stage("fraud", "1", "Production")
    client.set_registered_model_alias("fraud", "champion", "2")
    before = _moment()
    seen = _seen(client, "fraud")

    # MlflowClient drops the answer; its registry client (the same REST call) returns the renamed model
    renamed = client._get_registry_client().rename_registered_model("fraud", "fraud-scorer")
    assert (renamed.name, renamed.tags, renamed.description, renamed.aliases) == \
        ("fraud-scorer", {"team": "risk"}, "card fraud", {"champion": "2"})
    assert client.get_registered_model("fraud-scorer").latest_versions[0].name == "fraud-scorer"
    assert _seen(client, "fraud-scorer") == seen
    assert client.get_model_version("fraud-scorer", "1").current_stage == "Production"
    assert client.get_model_version_by_alias("fraud-scorer", "champion").version == "2"
    assert client.get_model_version_download_uri("fraud-scorer", "1") == "s3://models/fraud/1"
    assert [m.name for m in client.search_registered_models("name LIKE 'fraud%'")] == ["fraud-scorer"]
    assert {v.current_stage: v.version for v in client.get_latest_versions("fraud-scorer")} == \
        {"Production": "1", "None": "2"}
    assert client.create_model_version("fraud-scorer", source="s3://models/fraud/3").version == "3"
    assert _error_code(lambda: client.get_registered_model("fraud")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.get_model_version("fraud", "1")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.get_model_version_by_alias("fraud", "champion")) == "RESOURCE_DOES_NOT_EXIST"

    history = _modelog(server, "model", "history", "fraud-scorer")
    events = [entry["event"] for entry in history]
    assert events[0] == "ModelRegistered" and events.count("ModelVersionCreated") == 3
    renames = [entry for entry in history if entry["event"] == "ModelRenamed"]
    assert [(e["actor"], e["data"]) for e in renames] == \
        [(PRINCIPAL, {"old_name": "fraud", "new_name": "fraud-scorer"})]
    assert _as_of(server, "fraud", before) == seen  # as of before the rename: the old name, as the client saw it
    client.create_registered_model("fraud")  # the old name is free
    assert client.get_registered_model("fraud").aliases == {}
    client.rename_registered_model("fraud-scorer", "Fraud-Scorer")  # MlflowClient's own call; only the case
    assert client.get_registered_model("fraud-scorer").name == "Fraud-Scorer"  # names clash by key, as ever


def _fields(version: Any) -> dict[str, Any]:
    """Everything MlflowClient shows of a model version."""
    return {key: getattr(version, key) for key in (
        "name", "version", "creation_timestamp", "last_updated_timestamp", "user_id", "current_stage", "description",
        "source", "run_id", "run_link", "status", "status_message", "tags", "aliases")}


def test_a_created_version_answers_what_a_read_of_it_shows(server: ServerProcess) -> None:
    """create_model_version answers from the events it appended (no read back): the same fields, to the
    millisecond, as get_model_version and search_model_versions show right after it."""
    client = _client(server)
    client.create_registered_model("m")
    calls: list[dict[str, Any]] = [
        {"source": "s3://b/m/1"},
        {"source": "s3://b/m/2", "run_id": "run-2", "description": "second",
         "tags": {"b": "2", "a": "", "c": "x=y"}},
        {"source": "", "tags": {"only": "tag"}},
    ]
    for kwargs in calls:
        made = client.create_model_version("m", **kwargs)
        assert _fields(made) == _fields(client.get_model_version("m", made.version))
        searched = [v for v in client.search_model_versions("name = 'm'") if v.version == made.version]
        assert [_fields(v) for v in searched] == [_fields(made)]
    assert _fields(made)["tags"] == {"only": "tag"} and _fields(made)["user_id"] == PRINCIPAL


def test_search_filters_order_and_pages(server: ServerProcess) -> None:
    client = _client(server)
    for name, team in (("churn", "growth"), ("fraud", "risk"), ("Fraud_rules", "risk"), ("ltv", "growth")):
        client.create_registered_model(name, tags={"team": team})
    for i in range(1, 6):
        client.create_model_version("churn", source=f"s3://m/churn/{i}", run_id=f"run-{i % 2}",
                                    tags={"parity": "odd" if i % 2 else "even"})
    client.create_model_version("fraud", source="file:///models/fraud", run_id="run-1")

    def names(found: Any) -> list[str]:
        return [m.name for m in found]

    assert names(client.search_registered_models()) == ["Fraud_rules", "churn", "fraud", "ltv"]
    assert names(client.search_registered_models("name LIKE 'fr%'")) == ["fraud"]
    assert names(client.search_registered_models("name ILIKE 'fr%'")) == ["Fraud_rules", "fraud"]
    assert names(client.search_registered_models("tags.team = 'growth'")) == ["churn", "ltv"]
    assert names(client.search_registered_models(order_by=["name DESC"])) == ["ltv", "fraud", "churn", "Fraud_rules"]
    page = client.search_registered_models(max_results=3)
    assert names(page) == ["Fraud_rules", "churn", "fraud"] and page.token
    rest = client.search_registered_models(max_results=3, page_token=page.token)
    assert names(rest) == ["ltv"] and not rest.token

    def versions(found: Any) -> list[str]:
        return [f"{v.name}/{v.version}" for v in found]

    assert versions(client.search_model_versions("run_id = 'run-1'", order_by=["name", "version_number"])) == \
        ["churn/1", "churn/3", "churn/5", "fraud/1"]
    assert versions(client.search_model_versions("source_path LIKE 'file://%'")) == ["fraud/1"]
    assert versions(client.search_model_versions("name = 'churn' AND tags.parity = 'even'",
                                                 order_by=["version_number ASC"])) == ["churn/2", "churn/4"]
    assert versions(client.search_model_versions("name = 'nothing'")) == []
    walked, token = [], None
    while True:
        found = client.search_model_versions("name = 'churn'", max_results=2, order_by=["version_number DESC"],
                                             page_token=token)
        walked += versions(found)
        token = found.token
        if not token:
            break
    assert walked == ["churn/5", "churn/4", "churn/3", "churn/2", "churn/1"]

    for bad in ("name = churn", "name = 'a' OR name = 'b'", "owner = 'x'"):
        assert _error_code(lambda bad=bad: client.search_model_versions(bad)) == "INVALID_PARAMETER_VALUE", bad
    assert _error_code(lambda: client.search_registered_models(max_results=5000)) == "INVALID_PARAMETER_VALUE"


def test_refusals_carry_mlflow_error_codes(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client(server)
    client.create_registered_model("demo")
    client.create_model_version("demo", source="s3://m/1")
    client.create_model_version("demo", source="s3://m/2")
    assert _error_code(lambda: client.create_registered_model("demo")) == "RESOURCE_ALREADY_EXISTS"
    assert _error_code(lambda: client.create_registered_model("DEMO")) == "RESOURCE_ALREADY_EXISTS"
    assert _error_code(lambda: client.get_registered_model("nope")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.get_model_version("demo", "9")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.get_model_version_by_alias("demo", "ghost")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.get_model_version("demo", "x")) == "INVALID_PARAMETER_VALUE"
    assert _error_code(lambda: client.transition_model_version_stage("demo", "1", "Canary")) == \
        "INVALID_PARAMETER_VALUE"
    client.create_registered_model("other")
    assert _error_code(lambda: client.rename_registered_model("demo", "OTHER")) == "RESOURCE_ALREADY_EXISTS"
    assert _error_code(lambda: client.rename_registered_model("nope", "x")) == "RESOURCE_DOES_NOT_EXIST"
    assert _error_code(lambda: client.rename_registered_model("demo", "demo")) == "INVALID_PARAMETER_VALUE"
    assert _error_code(lambda: client.rename_registered_model("demo", "a/b")) == "INVALID_PARAMETER_VALUE"
    # at most one production holder: promoting over it needs archive_existing_versions (modelog's force)
    client.transition_model_version_stage("demo", "1", "Production")
    assert _error_code(lambda: client.transition_model_version_stage("demo", "2", "Production")) == "INVALID_STATE"
    assert client.get_model_version("demo", "1").current_stage == "Production"
    before = len(_modelog(server, "model", "history", "demo"))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mlg_not-a-real-token")
    assert _error_code(lambda: client.create_model_version("demo", source="s3://m/3")) == "UNAUTHENTICATED"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    assert _error_code(lambda: client.get_registered_model("demo")) == "UNAUTHENTICATED"
    assert len(_modelog(server, "model", "history", "demo")) == before  # refusals write nothing


def test_malformed_requests_and_other_mlflow_apis_answer_in_mlflows_error_form(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/2.0/mlflow", headers=server.auth()) as http:
        def error(response: httpx.Response) -> tuple[int, str]:
            return response.status_code, response.json()["error_code"]

        assert error(http.post("/registered-models/create", json={})) == (400, "INVALID_PARAMETER_VALUE")
        assert error(http.post("/registered-models/create", content=b"{not json")) == \
            (400, "INVALID_PARAMETER_VALUE")
        assert error(http.get("/model-versions/get", params={"name": "m"})) == (400, "INVALID_PARAMETER_VALUE")
        assert error(http.post("/model-versions/create", json={"name": "m", "tags": "x"})) == \
            (400, "INVALID_PARAMETER_VALUE")
        assert error(http.get("/experiments/get", params={"experiment_id": "0"})) == (404, "ENDPOINT_NOT_FOUND")
        assert error(http.put("/registered-models/get")) == (404, "ENDPOINT_NOT_FOUND")
        assert error(http.get("/registered-models/delete")) == (404, "ENDPOINT_NOT_FOUND")  # a DELETE route
        assert error(http.post("/registered-models/get-latest-versions", json={"name": "m"})) == \
            (404, "RESOURCE_DOES_NOT_EXIST")  # the path is served by GET and by POST
        assert http.get("/registered-models/search").status_code == 200
        head = http.head("/registered-models/search")  # HEAD is served where GET is, without a body
        assert (head.status_code, head.content) == (200, b"")
        refused = http.request("OPTIONS", "/registered-models/search")
        assert (refused.status_code, refused.json()["error"]["code"]) == (405, "method_not_allowed")
        unauthenticated = httpx.get(server.url + "/api/2.0/mlflow/registered-models/search")
        assert error(unauthenticated) == (401, "UNAUTHENTICATED")


def test_mlflow_calls_follow_the_principals_roles(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MLflow API goes through the same permission check: a viewer reads, a contributor on one model writes
    there only, and a refusal is MLflow's PERMISSION_DENIED and writes nothing."""
    client = _client(server)
    client.create_registered_model("open")
    client.create_registered_model("guarded")
    head = httpx.get(server.url + "/api/v1/log/head", headers=server.auth()).json()["position"]

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", issue_token(server.db_url, server.home, "vera", role="viewer"))
    assert client.get_registered_model("open").name == "open"
    assert _error_code(lambda: client.create_registered_model("sneaky")) == "PERMISSION_DENIED"
    assert _error_code(lambda: client.create_model_version("open", "s3://b/m")) == "PERMISSION_DENIED"

    contributor = issue_token(server.db_url, server.home, "carl", role=None)
    with connect(server.db_url, home=server.home) as registry:  # as an operator grants it
        registry.grant_role("carl", "contributor", model="open")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", contributor)
    assert client.create_model_version("open", "s3://b/m").version == "1"
    assert _error_code(lambda: client.create_model_version("guarded", "s3://b/m")) == "PERMISSION_DENIED"
    assert _error_code(lambda: client.transition_model_version_stage("open", "1", "Production")) == "PERMISSION_DENIED"
    events = httpx.get(server.url + "/api/v1/log/events", params={"from_position": head + 1, "limit": 100},
                       headers=server.auth()).json()
    rows = events["items"] if isinstance(events, dict) else events
    assert any(row["event_type"] == "ModelVersionCreated" for row in rows)
    assert {row["event_type"] for row in rows} <= {"ModelVersionCreated", "ModelVersionMetadataLogged",
                                                   "PrincipalAdded", "TokenCreated", "RoleGranted"}
