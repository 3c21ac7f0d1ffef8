"""Authentication and faults through a real ``modelog server`` process, on both backends.

Every API route but ``/health`` (and the OpenAPI document) needs a token the log vouches for;
the CLI says what is wrong in one line (exit 1) for a missing, wrong, expired or revoked token
and a disabled principal; the server records the authenticated principal as every event's
actor. Faults (an upload cut halfway, the server killed -9 mid-pipeline) leave the log, the read
models and the artifact store consistent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import connect
from modelog.registry.database import create_engine_for, transaction
from modelog.server.routes import ENDPOINTS

from tests.server_support import MODELOG, PRINCIPAL, SMALL_BODY, ServerProcess, issue_token, serving


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with serving(db_url, tmp_path / "server-home", extra_env=SMALL_BODY) as running:
        yield running


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MODELOG), *args], capture_output=True, text=True, env=env, timeout=120)


def _remote(server: ServerProcess, home: Path, token: str | None, actor: str = "remote-client") -> dict[str, str]:
    env = server.client_env(home)
    env["MODELOG_ACTOR"] = actor
    if token is None:
        env.pop("MODELOG_TOKEN")
    else:
        env["MODELOG_TOKEN"] = token
    return env


def _local(server: ServerProcess) -> dict[str, str]:
    """The operator on the server's machine: the database itself, no server in between."""
    return {"PATH": str(Path(sys.executable).parent), "MODELOG_HOME": str(server.home),
            "MODELOG_DATABASE_URL": server.db_url}


def _refused(done: subprocess.CompletedProcess[str], start: str) -> None:
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert done.stderr.startswith(f"Error: {start}") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def _token_id(token: str) -> str:
    return token.split("_")[1]


def test_every_route_but_health_and_the_api_document_needs_a_token(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/api/v1/openapi.json").status_code == 200
        for endpoint in ENDPOINTS:
            path = endpoint.path.replace("{", "").replace("}", "")  # every path parameter: its own name
            for headers in ({}, {"Authorization": "Bearer mlg_0123456789abcdef_" + "x" * 43},
                            {"Authorization": f"Basic {server.token}"}):
                answer = http.request(endpoint.method, path, headers=headers)
                assert answer.status_code == 401, (endpoint.method, path, answer.text)
                assert answer.json()["error"]["code"] == "unauthenticated"
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert http.get("/api/v1/models", headers=server.auth()).status_code == 200


def test_cli_says_in_one_line_what_is_wrong_with_the_token(server: ServerProcess, tmp_path: Path) -> None:
    home = tmp_path / "client"
    _refused(_cli(["model", "list"], _remote(server, home, None)), f"MODELOG_URL is set ({server.url}) but "
                                                                  "MODELOG_TOKEN is not")
    _refused(_cli(["model", "list"], _remote(server, home, server.token[:-2] + "zz")), "the API token is not valid")
    _refused(_cli(["model", "list"], _remote(server, home, "not-a-token")), "the API token is not valid")
    expiring = issue_token(server.db_url, server.home, "short-lived", expires="1s")
    time.sleep(1.2)
    _refused(_cli(["model", "list"], _remote(server, home, expiring)), f"API token {_token_id(expiring)} expired at")


def test_a_revoked_token_or_disabled_principal_is_refused_on_the_next_request(server: ServerProcess,
                                                                               tmp_path: Path) -> None:
    home = tmp_path / "client"
    alice = issue_token(server.db_url, server.home, "alice")
    assert _cli(["model", "list"], _remote(server, home, alice)).returncode == 0
    revoked = _cli(["token", "revoke", _token_id(alice)], _local(server))  # on the database, beside the server
    assert revoked.returncode == 0, revoked.stderr
    _refused(_cli(["model", "list"], _remote(server, home, alice)), f"API token {_token_id(alice)} has been revoked")

    bob = issue_token(server.db_url, server.home, "bob")
    assert _cli(["model", "list"], _remote(server, home, bob)).returncode == 0
    disabled = _cli(["principal", "disable", "bob"], _remote(server, home, server.token))  # through the server
    assert disabled.returncode == 0 and disabled.stdout == "Principal 'bob' disabled.\n", disabled.stderr
    _refused(_cli(["model", "list"], _remote(server, home, bob)), "principal 'bob' of API token")
    _refused(_cli(["token", "create", "bob"], _remote(server, home, server.token)), "principal 'bob' is disabled")


def test_a_tampered_view_row_grants_nothing(server: ServerProcess, tmp_path: Path) -> None:
    home = tmp_path / "client"
    carol = issue_token(server.db_url, server.home, "carol")
    assert _cli(["token", "revoke", _token_id(carol)], _local(server)).returncode == 0
    forged = "mlg_" + "f" * 16 + "_" + "A" * 43
    engine = create_engine_for(server.db_url)
    try:
        with transaction(engine, write=True) as conn:  # someone with the database edits the read models
            conn.exec_driver_sql("UPDATE view_tokens SET revoked_at = NULL, revoked_by = NULL")
            conn.exec_driver_sql("UPDATE view_principals SET disabled = false")
            conn.exec_driver_sql(f"INSERT INTO view_tokens (token_id, principal, created_at) VALUES "
                                 f"('{'f' * 16}', 'carol', '2026-01-01T00:00:00.000000Z')")
    finally:
        engine.dispose()
    _refused(_cli(["model", "list"], _remote(server, home, carol)), f"API token {_token_id(carol)} has been revoked")
    _refused(_cli(["model", "list"], _remote(server, home, forged)), "the API token is not valid")
    listed = _cli(["token", "list", "-o", "json"], _remote(server, home, server.token))
    assert '"token_id": "ffffffffffffffff"' in listed.stdout  # the view lies; authentication did not listen
    verified = _cli(["projections", "verify"], _local(server))
    assert verified.returncode != 0 and "view_tokens" in verified.stdout + verified.stderr


def test_events_record_the_principal_never_the_claimed_actor(server: ServerProcess, tmp_path: Path) -> None:
    env = _remote(server, tmp_path / "client", server.token, actor="eve")
    assert _cli(["model", "register", "-n", "audited"], env).returncode == 0
    other = issue_token(server.db_url, server.home, "dan")
    updated = _cli(["model", "update", "audited", "-d", "by dan"], _remote(server, tmp_path / "c2", other))
    assert updated.returncode == 0, updated.stderr
    with connect(server.db_url, home=server.home) as registry:
        events = [e for e in registry.log_events(limit=1000) if e.stream_id.startswith(("name-", "model-"))]
    assert {(e.event_type, e.meta["actor"], e.meta.get("claimed_actor")) for e in events} == {
        ("ModelNameClaimed", PRINCIPAL, "eve"), ("ModelRegistered", PRINCIPAL, "eve"),
        ("ModelUpdated", "dan", "remote-client")}


def test_a_command_id_answers_only_the_principal_that_sent_it(server: ServerProcess) -> None:
    erin = issue_token(server.db_url, server.home, "erin")
    same = {"X-Modelog-Command-Id": "shared-id"}
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as http:
        first = http.post("/models", json={"name": "one"}, headers={**server.auth(), **same})
        second = http.post("/models", json={"name": "one"}, headers={"Authorization": f"Bearer {erin}", **same})
        assert first.status_code == 200 and "X-Modelog-Replayed" not in second.headers
        assert second.status_code == 409 and second.json()["error"]["code"] == "conflict"  # applied, and refused


def test_oversized_and_malformed_bodies_are_one_line_on_the_client(server: ServerProcess, tmp_path: Path) -> None:
    env = _remote(server, tmp_path / "client", server.token)
    _refused(_cli(["model", "register", "-n", "big", "-d", "x" * 100_000], env), "request body of")
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        answer = http.post("/tokens", content=b'{"principal": ', headers={"Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "malformed_body"
        assert http.post("/principals", json={"name": 7}).status_code == 422
    assert _cli(["log", "verify"], _local(server)).returncode == 0


def _consistent(server: ServerProcess) -> None:
    for command in (["log", "verify"], ["projections", "verify"], ["artifacts", "verify"]):
        checked = _cli(command, _local(server))
        assert checked.returncode == 0, (command, checked.stdout, checked.stderr)


def test_an_upload_cut_halfway_stores_nothing_and_the_registry_stays_consistent(server: ServerProcess) -> None:
    size = 4 << 20
    head = (f"PUT /api/v1/blobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
            f"X-Content-SHA256: {'0' * 64}\r\nContent-Length: {size}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + b"x" * (size // 2))
    time.sleep(0.5)
    store = server.home / "artifacts"
    assert not store.exists() or [p for p in store.rglob("*") if p.is_file()] == []
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.get("/log/head").status_code == 200  # still serving
    _consistent(server)


PIPELINE = """
import sys, time
from typing import Annotated
from modelog import ModelConfig, pipeline, step

@step
def first() -> Annotated[list, "numbers"]:
    print("started", flush=True)
    time.sleep(3)
    return list(range(1000))

@pipeline(enable_cache=False, model_config=ModelConfig(name="killed", create_new_model_version=True,
                                                      delete_new_version_on_failure=True))
def slow() -> None:
    first()

try:
    slow()
except Exception as error:
    print(f"Error: {error}", file=sys.stderr)
    sys.exit(1)
"""


def test_server_killed_mid_pipeline_then_restarted_leaves_a_consistent_registry(db_url: str,
                                                                                tmp_path: Path) -> None:
    server = ServerProcess(db_url, tmp_path / "server-home")
    env = server.client_env(tmp_path / "client")
    child = subprocess.Popen([sys.executable, "-c", PIPELINE], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=60)
        _, err = child.communicate(timeout=120)
    finally:
        server.stop()
    assert child.returncode == 1 and err.startswith("Error: ") and err.count("\n") == 1, err
    assert server.url in err and "Traceback" not in err
    restarted = ServerProcess(db_url, tmp_path / "server-home")
    try:
        _consistent(restarted)
        runs = _cli(["run", "list", "-o", "json"], restarted.client_env(tmp_path / "client"))
        assert runs.returncode == 0 and '"status": "running"' in runs.stdout  # left for 'modelog run close'
    finally:
        restarted.stop()
