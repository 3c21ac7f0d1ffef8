"""The hot live reads (a version, a model) answered ahead of the framework: every check of the ordinary path holds.

Each case warms the kept answer first (two reads), so the request that matters is one the hot path
would serve; what it must not serve (a revoked, expired or disabled token, a model the principal may
not read) is then answered by the ordinary path, with its JSON error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.api import RegistryAPI
from modelog.application.local import connect
from modelog.server.http import encode

from tests.server_support import ServerProcess, issue_token

CHAMPION = "/api/v1/models/m/versions/%40champion"


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(db_url, tmp_path / "server-home")
    try:
        with httpx.Client(base_url=running.url + "/api/v1", timeout=30, headers=running.auth()) as http:
            for name in ("m", "n"):
                assert http.post("/models", json={"name": name}).status_code == 200
                assert http.post(f"/models/{name}/versions", json={}).status_code == 200
                assert http.put(f"/models/{name}/aliases/champion", json={"version": 1}).status_code == 200
        yield running
    finally:
        running.stop()


def _get(server: ServerProcess, token: str | None, path: str = CHAMPION) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.get(server.url + path, headers=headers, timeout=30)


def _warm(server: ServerProcess, token: str, path: str = CHAMPION) -> None:
    for _ in range(2):
        assert _get(server, token, path).status_code == 200


def _error(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def _operator(server: ServerProcess) -> RegistryAPI:
    """The registry itself, beside the server (as an operator on its machine)."""
    return connect(server.db_url, home=server.home, actor="operator", writable=True)


def test_a_hot_answer_is_the_reads_own_json_and_headers(server: ServerProcess) -> None:
    _warm(server, server.token)
    hot = _get(server, server.token)
    with _operator(server) as api:
        expected = encode(api.get_version("m", "@champion"))
    assert hot.status_code == 200 and hot.content == expected
    assert hot.headers["content-type"] == "application/json"
    assert hot.headers["content-length"] == str(len(expected))
    model = _get(server, server.token, "/api/v1/models/m")
    assert model.json()["name"] == "m" and _get(server, server.token, "/api/v1/models/m").content == model.content


def test_a_token_revoked_or_a_principal_disabled_beside_the_server_is_refused_on_the_next_hot_read(
        server: ServerProcess) -> None:
    alice = issue_token(server.db_url, server.home, "alice", role="viewer")
    _warm(server, alice)
    with _operator(server) as api:
        api.revoke_token(alice.split("_")[1])
    _warm(server, server.token)  # the answer is kept again, at the head the revocation moved
    refused = _get(server, alice)
    assert _error(refused) == (401, "unauthenticated", f"API token {alice.split('_')[1]} has been revoked")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")

    bob = issue_token(server.db_url, server.home, "bob", role="viewer")
    _warm(server, bob)
    with _operator(server) as api:
        api.disable_principal("bob")
    _warm(server, server.token)
    assert _error(_get(server, bob))[:2] == (401, "unauthenticated")
    assert _get(server, server.token).status_code == 200  # others are still served


def test_an_expired_token_is_refused_though_the_log_has_not_moved(server: ServerProcess) -> None:
    brief = issue_token(server.db_url, server.home, "brief", expires="2s", role="viewer")
    _warm(server, brief)
    head = _get(server, server.token, "/api/v1/log/head").json()["position"]
    time.sleep(2.2)
    status, code, message = _error(_get(server, brief))
    assert (status, code) == (401, "unauthenticated") and f"API token {brief.split('_')[1]} expired at" in message
    assert _get(server, server.token, "/api/v1/log/head").json()["position"] == head


def test_bad_or_missing_tokens_get_the_ordinary_refusals(server: ServerProcess) -> None:
    _warm(server, server.token)
    assert _error(_get(server, None))[:2] == (401, "unauthenticated")
    assert _error(_get(server, server.token[:-2] + "zz")) == (
        401, "unauthenticated", "the API token is not valid (unknown or mistyped; see 'modelog token list')")
    basic = httpx.get(server.url + CHAMPION, headers={"Authorization": f"Basic {server.token}"}, timeout=30)
    assert _error(basic)[:2] == (401, "unauthenticated")


def test_a_grant_on_one_model_reads_that_model_only(server: ServerProcess) -> None:
    dave = issue_token(server.db_url, server.home, "dave", role=None)
    with _operator(server) as api:
        api.grant_role("dave", "viewer", model="m")
    _warm(server, server.token)  # the answers are kept; dave's permission is still checked on each request
    _warm(server, server.token, "/api/v1/models/n/versions/%40champion")
    assert _get(server, dave).json()["number"] == 1
    status, code, message = _error(_get(server, dave, "/api/v1/models/n/versions/%40champion"))
    assert (status, code) == (403, "forbidden") and "'dave' needs the viewer role on model 'n'" in message
    assert _error(_get(server, dave, "/api/v1/models/n"))[:2] == (403, "forbidden")


def test_writes_are_read_at_once_and_past_reads_take_the_ordinary_path(server: ServerProcess) -> None:
    http = httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth())
    with http:
        _warm(server, server.token)
        position = http.get("/log/head").json()["position"]
        assert http.post("/models/m/versions", json={}).status_code == 200
        assert http.put("/models/m/aliases/champion", json={"version": 2}).status_code == 200
        assert http.get("/models/m/versions/%40champion").json()["number"] == 2  # through the server
        with _operator(server) as api:
            api.set_alias("m", "1", "champion")  # beside it
        assert http.get("/models/m/versions/%40champion").json()["number"] == 1
        past = http.get("/models/m/versions/%40champion", params={"at_position": position})
        assert past.json()["number"] == 1 and http.get("/models/m/versions/latest").json()["number"] == 2


def test_hot_reads_are_logged_with_their_principal(server: ServerProcess) -> None:
    viewer = issue_token(server.db_url, server.home, "erin", role="viewer")
    _warm(server, viewer)
    assert _get(server, viewer, CHAMPION).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("event") == "request" and line.get("principal") == "erin"]
        if len(mine) >= 3:
            break
        time.sleep(0.05)
    assert [(line["method"], line["path"], line["status"]) for line in mine] == [
        ("GET", "/api/v1/models/m/versions/@champion", 200)] * 3
