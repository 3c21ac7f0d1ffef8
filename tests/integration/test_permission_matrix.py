"""The permission matrix through a real ``modelog server``: every route of the API x every role, on both backends.

One server per backend, one token per principal: no role at all, each role registry-wide, and
``maintainer`` on one model only. Each route is called by each principal with arguments that reach
its use case; it must answer 403 (one line naming the missing role, nothing written) exactly when
the role the matrix below gives that use case is not held where the call needs it, and anything
but 403 otherwise. The matrix is written out here, independently of the application's table, and
a unit test (tests/unit/test_permissions.py) holds that table to the same matrix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from modelog.application.local import connect
from modelog.registry.commands import ModelContext
from modelog.server.routes import ENDPOINTS

from tests import backends
from tests.server_support import ServerProcess, issue_token

ROLES = ("viewer", "contributor", "maintainer", "admin")
#: principal -> (role, model) it is granted; "nobody" holds no role at all.
PRINCIPALS: dict[str, tuple[str | None, str | None]] = {
    "nobody": (None, None), "viewer-p": ("viewer", None), "contrib-p": ("contributor", None),
    "maint-p": ("maintainer", None), "admin-p": ("admin", None), "demo-maint": ("maintainer", "demo"),
}

#: The role each use case needs (docs/permissions.md); "model" marks those checked on the model the call names.
MATRIX: dict[str, tuple[str, bool]] = {
    "resolve_point": ("viewer", False), "list_models": ("viewer", False), "list_model_summaries": ("viewer", False),
    "list_runs": ("viewer", False), "get_run": ("viewer", True), "list_run_steps": ("viewer", True),
    "find_cached_step": ("viewer", False), "get_artifact": ("viewer", False), "list_artifacts": ("viewer", False),
    "open_artifact": ("viewer", False), "verify_artifacts": ("viewer", False),
    "log_events": ("viewer", False),
    "log_head": ("viewer", False),
    "log_checkpoint": ("viewer", False), "verify_log": ("viewer", False), "export_log": ("viewer", False),
    "export_bundle": ("viewer", False), "verify_projections": ("viewer", False), "complete": ("viewer", False),
    "list_stage_policies": ("viewer", False),
    "get_model": ("viewer", True), "history": ("viewer", True), "list_versions": ("viewer", True),
    "history_page": ("viewer", True), "stage_timeline": ("viewer", True),
    "get_version": ("viewer", True), "list_links": ("viewer", True), "list_version_runs": ("viewer", True),
    "describe_model": ("viewer", True), "describe_version": ("viewer", True), "compare_versions": ("viewer", True),
    "search_versions": ("viewer", True), "list_stage_requests": ("viewer", True),
    "register_model": ("contributor", False), "store_blob": ("contributor", False),
    "start_run": ("contributor", True), "complete_step": ("contributor", True), "finish_run": ("contributor", True),
    "fail_run": ("contributor", True), "create_version": ("contributor", True), "link_artifact": ("contributor", True),
    "log_metadata": ("contributor", True),
    "update_model": ("maintainer", True), "rename_model": ("maintainer", True), "update_version": ("maintainer", True),
    "set_stage": ("maintainer", True),
    "set_alias": ("maintainer", True), "remove_alias": ("maintainer", True), "delete_version": ("maintainer", True),
    "request_stage": ("maintainer", True), "approve_stage_request": ("maintainer", True),
    "reject_stage_request": ("maintainer", True),
    "delete_model": ("admin", True), "add_principal": ("admin", False), "disable_principal": ("admin", False),
    "list_principals": ("admin", False), "create_token": ("admin", False), "list_tokens": ("admin", False),
    "revoke_token": ("admin", False), "describe_principal": ("admin", False), "grant_role": ("admin", True),
    "revoke_role": ("admin", True), "set_stage_policy": ("admin", True), "import_log": ("admin", False),
    "import_bundle": ("admin", False), "rebuild_projections": ("admin", False),
}


@dataclass(frozen=True)
class Call:
    """How the matrix calls one route: its use case, path parameters, body and whether it is about model demo."""

    use_case: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    on_demo: bool = True
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


_BLOB = b"matrix blob"
_V = "/models/{model}/versions/{version}"
CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/model-summaries"): Call("list_model_summaries", on_demo=False),
    ("GET", "/models/{model}/describe"): Call("describe_model"),
    ("GET", "/models/{model}/compare"): Call("compare_versions", query={"version": "1"}),
    ("GET", "/models/{model}/version-search"): Call("search_versions"),
    ("GET", _V + "/describe"): Call("describe_version"),
    ("POST", _V + "/metadata"): Call("log_metadata", body={"values": {"accuracy": 0.9}}),
    ("GET", "/complete"): Call("complete", query={"kind": "model"}, on_demo=False),
    ("GET", "/principals/{name}"): Call("describe_principal", params={"name": "victim"}, on_demo=False),
    ("POST", "/principals/{name}/roles"): Call("grant_role", params={"name": "victim"},
                                               body={"role": "viewer", "model": "demo"}),
    ("POST", "/principals/{name}/roles/revoke"): Call("revoke_role", params={"name": "victim"},
                                                      body={"role": "admin", "model": "demo"}),
    ("GET", "/policies"): Call("list_stage_policies", on_demo=False),
    ("PUT", "/policies/{stage}"): Call("set_stage_policy", params={"stage": "staging"},
                                       body={"approvals": 0, "model": "demo"}),
    ("GET", "/models/{model}/requests"): Call("list_stage_requests"),
    ("POST", _V + "/requests"): Call("request_stage", body={"stage": "production"}),
    ("POST", _V + "/approve"): Call("approve_stage_request", body={}),
    ("POST", _V + "/reject"): Call("reject_stage_request", body={}),
    ("GET", "/log/point"): Call("resolve_point", on_demo=False),
    ("GET", "/models"): Call("list_models", on_demo=False),
    ("POST", "/models"): Call("register_model", body={"name": "fresh"}, on_demo=False),
    ("GET", "/models/{model}"): Call("get_model"),
    ("PATCH", "/models/{model}"): Call("update_model", body={"add_tags": ["t"]}),
    ("DELETE", "/models/{model}"): Call("delete_model", params={"model": "ghost"}, on_demo=False),
    # reaches the use case, which refuses it (demo is named demo already): the model keeps its name for the others
    ("POST", "/models/{model}/rename"): Call("rename_model", body={"new_name": "demo"}),
    ("GET", "/models/{model}/history"): Call("history"),
    ("GET", "/models/{model}/history-page"): Call("history_page"),
    ("GET", "/models/{model}/timeline"): Call("stage_timeline"),
    ("GET", "/models/{model}/versions"): Call("list_versions"),
    ("POST", "/models/{model}/versions"): Call("create_version", body={}),
    ("GET", _V): Call("get_version"),
    ("PATCH", _V): Call("update_version", body={"description": "d"}),
    ("DELETE", _V): Call("delete_version", params={"version": "99"}),
    ("PUT", _V + "/stage"): Call("set_stage", body={"stage": "staging"}),
    ("GET", _V + "/links"): Call("list_links"),
    ("POST", _V + "/links"): Call("link_artifact", body={"artifact_id": "nope"}),
    ("GET", _V + "/runs"): Call("list_version_runs"),
    ("PUT", "/models/{model}/aliases/{alias}"): Call("set_alias", body={"version": 1}),
    ("DELETE", "/models/{model}/aliases/{alias}"): Call("remove_alias", params={"alias": "nothere"}),
    ("GET", "/runs"): Call("list_runs", on_demo=False),
    ("POST", "/runs"): Call("start_run", body={"run_id": "run-started", "pipeline": "p",
                                              "model": {"name": "demo", "version": 1}}),
    ("GET", "/runs/{run_id}"): Call("get_run"),
    ("GET", "/runs/{run_id}/steps"): Call("list_run_steps"),
    ("POST", "/runs/{run_id}/steps"): Call("complete_step", body={"step": "s"}),
    ("POST", "/runs/{run_id}/finish"): Call("finish_run", body={}),
    ("POST", "/runs/{run_id}/fail"): Call("fail_run", body={"error_type": "E", "error_message": "m"}),
    ("GET", "/steps/cached"): Call("find_cached_step", query={"cache_key": "k"}, on_demo=False),
    ("GET", "/artifacts"): Call("list_artifacts", on_demo=False),
    ("GET", "/artifacts/verify"): Call("verify_artifacts", on_demo=False),
    ("GET", "/artifacts/{artifact_id}"): Call("get_artifact", on_demo=False),
    ("PUT", "/blobs"): Call("store_blob", on_demo=False, content=_BLOB,
                            headers={"X-Content-SHA256": hashlib.sha256(_BLOB).hexdigest()}),
    ("GET", "/artifacts/{artifact_id}/content"): Call("open_artifact", on_demo=False),
    ("GET", "/log/events"): Call("log_events", on_demo=False),
    ("GET", "/log/head"): Call("log_head", on_demo=False),
    ("GET", "/log/checkpoint"): Call("log_checkpoint", on_demo=False),
    ("GET", "/log/verify"): Call("verify_log", on_demo=False),
    ("GET", "/log/export"): Call("export_log", on_demo=False),
    ("POST", "/log/import"): Call("import_log", on_demo=False, content=b"{}\n"),
    ("GET", "/log/bundle"): Call("export_bundle", on_demo=False),
    ("POST", "/log/bundle"): Call("import_bundle", on_demo=False, content=b"{}\n"),
    ("GET", "/projections/verify"): Call("verify_projections", on_demo=False),
    ("POST", "/projections/rebuild"): Call("rebuild_projections", body={}, on_demo=False),
    ("GET", "/principals"): Call("list_principals", on_demo=False),
    ("POST", "/principals"): Call("add_principal", body={"name": "newcomer"}, on_demo=False),
    ("POST", "/principals/{name}/disable"): Call("disable_principal", params={"name": "victim"}, body={},
                                                 on_demo=False),
    ("GET", "/tokens"): Call("list_tokens", on_demo=False),
    ("POST", "/tokens"): Call("create_token", body={"principal": "victim"}, on_demo=False),
    ("POST", "/tokens/{token_id}/revoke"): Call("revoke_token", params={"token_id": "0" * 16}, body={},
                                                on_demo=False),
}
DEFAULTS = {"model": "demo", "version": "1", "alias": "champion", "run_id": "run-demo", "artifact_id": "nope",
            "name": "victim", "token_id": "0" * 16, "stage": "staging"}
RANK = {role: index for index, role in enumerate(ROLES, start=1)}


def allowed(principal: str, call: Call) -> bool:
    """What the matrix says: may ``principal`` make ``call``?"""
    role, model = PRINCIPALS[principal]
    needed, model_scoped = MATRIX[call.use_case]
    if role is None or RANK[role] < RANK[needed]:
        return False
    return model is None or (model_scoped and call.on_demo)


@dataclass
class Matrix:
    """The running server and a token per principal."""

    server: ServerProcess
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=backends.selected_backends())
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    if request.param == "postgres":
        backends.require_postgres()
        db_url = backends.reset_postgres()
    else:
        db_url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'registry.db'}"
    home = tmp_path_factory.mktemp("matrix-home")
    with connect(db_url, home=home, actor="operator") as api:
        api.register_model("demo")
        api.create_version("demo")
        api.create_version("demo")
        api.set_alias("demo", 1, "champion")
        api.start_run("run-demo", "p", model=ModelContext(name="demo", version=1))
        api.add_principal("victim")
    tokens = {}
    for name, (role, model) in PRINCIPALS.items():
        tokens[name] = issue_token(db_url, home, name, role=None if model else role)
        if model is not None:
            with connect(db_url, home=home, actor="operator") as api:
                api.grant_role(name, str(role), model=model)
    server = ServerProcess(db_url, home / "server")
    try:
        yield Matrix(server, tokens)
    finally:
        server.stop()


def test_every_route_is_in_the_matrix() -> None:
    routes = {(e.method, e.path.removeprefix("/api/v1")) for e in ENDPOINTS}
    assert routes == set(CALLS), routes ^ set(CALLS)
    assert {c.use_case for c in CALLS.values()} == set(MATRIX)


@pytest.mark.parametrize("route", sorted(CALLS), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_answers_403_exactly_where_the_matrix_refuses(matrix: Matrix, route: tuple[str, str]) -> None:
    method, template = route
    call = CALLS[route]
    path = "/api/v1" + template.format(**{**DEFAULTS, **call.params})
    order = list(matrix.tokens.items())
    # both orders: a refused principal asking after an allowed one (whose live read the server caches) too
    for principal, token in [*order, *reversed(order)]:
        headers = {"Authorization": f"Bearer {token}", **call.headers}
        kwargs: dict[str, Any] = {"params": call.query, "headers": headers, "timeout": 60}
        if call.content is not None:
            kwargs["content"] = call.content
        elif method != "GET":
            kwargs["json"] = call.body if call.body is not None else {}
        done = httpx.request(method, matrix.server.url + path, **kwargs)
        expected = allowed(principal, call)
        if expected:
            assert done.status_code != 403, (principal, done.text)
        else:
            assert done.status_code == 403, (principal, done.status_code, done.text)
            error = done.json()["error"]
            needed = MATRIX[call.use_case][0]
            assert error["code"] == "forbidden" and f"needs the {needed} role" in error["message"], error
            assert "\n" not in error["message"]


def test_a_refusal_writes_nothing(matrix: Matrix) -> None:
    server = matrix.server
    head = httpx.get(server.url + "/api/v1/log/head", headers=server.auth()).json()["position"]
    for principal in ("nobody", "viewer-p", "contrib-p", "demo-maint"):
        headers = {"Authorization": f"Bearer {matrix.tokens[principal]}"}
        done = httpx.delete(server.url + "/api/v1/models/demo", headers=headers, timeout=60)
        assert done.status_code == 403
        done = httpx.post(server.url + "/api/v1/principals/victim/roles", json={"role": "admin"}, headers=headers)
        assert done.status_code == 403
    assert httpx.get(server.url + "/api/v1/log/head", headers=server.auth()).json()["position"] == head


def test_a_grant_or_revoke_takes_effect_on_the_next_request(matrix: Matrix, tmp_path: Path) -> None:
    server = matrix.server
    headers = {"Authorization": f"Bearer {matrix.tokens['nobody']}"}
    assert httpx.get(server.url + "/api/v1/models", headers=headers).status_code == 403
    with connect(server.db_url, home=server.home, actor="operator") as api:
        api.grant_role("nobody", "viewer")
    assert httpx.get(server.url + "/api/v1/models", headers=headers).status_code == 200
    with connect(server.db_url, home=server.home, actor="operator") as api:
        api.revoke_role("nobody", "viewer")
    assert httpx.get(server.url + "/api/v1/models", headers=headers).status_code == 403
