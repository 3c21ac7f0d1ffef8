"""Four-eyes stage approvals in the web UI over HTTP on a real server, on every backend: a protected stage's
form becomes a request, another maintainer approves it through the page's form and the version moves; the
requester cannot approve their own request, a viewer is refused, a form without its CSRF value writes nothing;
the model page lists the pending requests, and a past moment shows a request as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import connect

from tests.server_support import ServerProcess, issue_token, serving
from tests.ui_support import csrf_of, seed, signed_in

V2 = "/ui/models/demo/versions/2"


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    home = tmp_path / "server-home"
    seed(db_url, home)
    with connect(db_url, home=home) as registry:
        registry.set_stage_policy("production", 1, model="demo")
    with serving(db_url, home) as running:
        yield running


def _client(server: ServerProcess, principal: str, role: str) -> httpx.Client:
    return signed_in(server.url, issue_token(server.db_url, server.home, principal, role=role))


def _head(server: ServerProcess) -> int:
    with connect(server.db_url, home=server.home) as registry:
        return registry.log_head().position


def test_request_as_one_maintainer_approve_as_another(server: ServerProcess) -> None:
    alice, bob = _client(server, "alice", "maintainer"), _client(server, "bob", "maintainer")
    viewer = _client(server, "vera", "viewer")
    page = alice.get(V2).text
    assert 'id="request-form"' in page and '<option value="production">production (1 approval)</option>' in page
    move = page.split('id="stage-form"')[1].split("</form>")[0]
    assert '"production"' not in move  # a protected stage is requested, never moved to directly
    head = _head(server)
    request_url = V2 + "/request"
    assert alice.post(request_url, data={"stage": "production", "force": "yes"}).status_code == 403  # no CSRF
    assert _head(server) == head
    asked = alice.post(request_url, data={"stage": "production", "force": "yes", "csrf_token": csrf_of(page)})
    assert asked.status_code == 303 and asked.headers["location"] == V2 + "?notice=requested"
    requested_at = _head(server)
    shown = alice.get(asked.headers["location"]).text
    assert "Stage change requested" in shown and 'class="stage-request" data-request="1"' in shown
    assert "<td>alice</td>" in shown and "0 of 1" in shown and "(archives the holder)" in shown
    twin = alice.get(V2 + ".json").json()
    assert twin["protected"] == {"production": 1}
    assert [(r["number"], r["stage"], r["status"], r["requested_by"]) for r in twin["requests"]] == [
        (2, "production", "pending", "alice")]
    model = alice.get("/ui/models/demo.json").json()
    assert [r["request"] for r in model["requests"]] == [1]
    assert 'action="/ui/models/demo/versions/2/approve"' in alice.get("/ui/models/demo").text

    own = alice.post(V2 + "/approve", data={"stage": "production", "csrf_token": csrf_of(shown)})
    assert own.status_code == 403 and "cannot approve it" in own.text and 'class="problem"' in own.text
    refused = viewer.post(V2 + "/approve", data={"stage": "production", "csrf_token": csrf_of(viewer.get(V2).text)})
    assert refused.status_code == 403
    bob_page = bob.get(V2).text
    assert bob.post(V2 + "/approve", data={"stage": "production"}).status_code == 403  # no CSRF
    assert bob.post(V2 + "/approve", data={"stage": "production", "csrf_token": csrf_of(alice.get(V2).text)}
                    ).status_code == 403  # another session's CSRF value
    assert _head(server) == requested_at  # nothing written by any refusal

    done = bob.post(V2 + "/approve", data={"stage": "production", "csrf_token": csrf_of(bob_page)})
    assert done.status_code == 303 and done.headers["location"] == V2 + "?notice=approved"
    versions = {v["number"]: v["stage"] for v in bob.get("/ui/models/demo.json").json()["versions"]}
    assert versions == {1: "archived", 2: "production"}
    assert bob.get(V2 + ".json").json()["requests"] == []
    again = bob.post(V2 + "/approve", data={"stage": "production", "csrf_token": csrf_of(bob_page)})
    assert again.status_code == 409 and 'class="problem"' in again.text
    with connect(server.db_url, home=server.home) as registry:
        assert [(e.actor, e.event_type) for e in registry.history("demo") if e.position > requested_at][:2] == [
            ("bob", "StageChangeApproved"), ("bob", "ModelVersionStageChanged")]

    past = alice.get(V2, params={"at_position": requested_at})  # the request as it was, without the forms
    assert past.status_code == 200 and 'data-request="1"' in past.text and "0 of 1" in past.text
    assert 'action="/ui/models/demo/versions/2/approve"' not in past.text
    assert alice.get(V2 + ".json", params={"at_position": requested_at - 1}).json()["requests"] == []
    for client in (alice, bob, viewer):
        client.close()


def test_a_viewer_cannot_request_and_a_rejection_withdraws(server: ServerProcess) -> None:
    alice, bob = _client(server, "alice", "maintainer"), _client(server, "bob", "maintainer")
    viewer = _client(server, "vera", "viewer")
    head = _head(server)
    denied = viewer.post(V2 + "/request", data={"stage": "production", "csrf_token": csrf_of(viewer.get(V2).text)})
    assert denied.status_code == 403 and _head(server) == head
    assert alice.post(V2 + "/request", data={"stage": "production", "csrf_token": csrf_of(alice.get(V2).text)}
                      ).status_code == 303
    hostile = '<script>window.__xss = 1</script>'
    rejected = bob.post(V2 + "/reject", data={"stage": "production", "reason": hostile,
                                              "csrf_token": csrf_of(bob.get(V2).text)})
    assert rejected.status_code == 303 and rejected.headers["location"] == V2 + "?notice=rejected"
    assert bob.get(V2 + ".json").json()["requests"] == []
    assert bob.get("/ui/models/demo/versions/2.json").json()["description"]["version"]["stage"] == "none"
    assert "<script>window" not in bob.get("/ui/models/demo").text
    missing = bob.post(V2 + "/approve", data={"csrf_token": csrf_of(bob.get(V2).text)})
    assert missing.status_code in (404, 409) and 'class="problem"' in missing.text
    for client in (alice, bob, viewer):
        client.close()
