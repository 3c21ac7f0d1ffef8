"""Roles and four-eyes stage approvals: in process (the operator's local mode) on both backends, and through a
real server with the SDK, the CLI and the HTTP API.

In process: a protected stage refuses a direct move; a request, then another principal's approval,
moves the version (force as requested) in the same command; the requester never approves their own
request; expired, decided and duplicate requests are refused with one line and nothing written; a
past read shows a request as it was; ``model history`` shows grants, requests and approvals and who
did each; the domain's rules replay them and the projections rebuild and verify. Through a server:
the same flow across principals, and refusals naming the missing role.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import LocalRegistry, connect
from modelog.application.remote import RemoteRegistry
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from modelog.sdk.client import Client

from tests.server_support import MODELOG, ServerProcess, issue_token


@pytest.fixture
def api(db_url: str, home: Path) -> Iterator[LocalRegistry]:
    registry = connect(db_url, home=home, actor="alice")
    assert isinstance(registry, LocalRegistry)
    registry.register_model("demo")
    for _ in range(3):
        registry.create_version("demo")
    registry.add_principal("bob")
    yield registry
    registry.close()


def _head(api: LocalRegistry) -> int:
    return api.log_head().position


def test_a_protected_stage_moves_only_on_another_principals_approval(api: LocalRegistry) -> None:
    api.set_stage("demo", 2, "production")
    policy = api.set_stage_policy("production", 1, model="demo")
    assert policy.changed and policy.model == "demo"
    before = _head(api)
    with pytest.raises(ConflictError, match="protected .* request-stage demo 1 production"):
        api.set_stage("demo", 1, "production", force=True)
    with pytest.raises(ConflictError, match="protected"):
        api.update_version("demo", 1, stage="production", force=True, description="x")
    assert _head(api) == before  # nothing written, not even the description of the refused update
    requested = api.request_stage("demo", 1, "production", force=True)
    assert (requested.request, requested.status, requested.requested_by) == (1, "pending", "alice")
    with pytest.raises(ConflictError, match="pending already"):
        api.request_stage("demo", 1, "production")
    with pytest.raises(PermissionDeniedError, match="cannot approve it"):
        api.approve_stage_request("demo", 1)
    assert api.get_version("demo", 1).stage == "none"
    done = api.acting_as("bob").approve_stage_request("demo", 1)
    assert done.status == "approved" and done.approved_by == ("bob",)
    assert done.stage_change is not None and done.stage_change.moved and done.stage_change.archived == (2,)
    assert api.get_version("demo", 1).stage == "production" and api.get_version("demo", 2).stage == "archived"
    with pytest.raises(ConflictError, match="approved already"):
        api.acting_as("carol").approve_stage_request("demo", 1)
    history = [(e.actor, e.event_type) for e in api.history("demo") if e.position > before]
    assert history == [("alice", "StageChangeRequested"), ("bob", "StageChangeApproved"),
                       ("bob", "ModelVersionStageChanged"), ("bob", "ModelVersionStageChanged")]
    assert api.verify_log(rules=True).rule_problem is None
    assert api.verify_projections().differences == []


def test_two_approvals_and_a_rejection(api: LocalRegistry) -> None:
    api.set_stage_policy("staging", 2)  # registry-wide
    api.request_stage("demo", 3, "staging")
    first = api.acting_as("bob").approve_stage_request("demo", 3, stage="staging")
    assert first.status == "pending" and first.stage_change is None
    with pytest.raises(ConflictError, match="approved request 1 already"):
        api.acting_as("BOB").approve_stage_request("demo", 3)  # names compare as names do
    assert api.get_version("demo", 3).stage == "none"
    api.acting_as("carol").approve_stage_request("demo", 3)
    assert api.get_version("demo", 3).stage == "staging"
    api.request_stage("demo", 2, "staging")
    rejected = api.acting_as("bob").reject_stage_request("demo", 2, reason="metrics regressed")
    assert rejected.status == "rejected"
    with pytest.raises(ConflictError, match="rejected by 'bob'"):
        api.acting_as("carol").approve_stage_request("demo", 2)
    statuses = [(r.request, r.number, r.status) for r in api.list_stage_requests("demo")]
    assert statuses == [(1, 3, "approved"), (2, 2, "rejected")]
    assert [r.reason for r in api.list_stage_requests("demo", status="rejected")] == ["metrics regressed"]


def test_an_expired_request_cannot_be_approved_and_a_new_one_can_be_made(api: LocalRegistry) -> None:
    api.set_stage_policy("production", 1)
    api.request_stage("demo", 1, "production", expires="1s")
    time.sleep(1.2)
    before = _head(api)
    with pytest.raises(ConflictError, match="expired at"):
        api.acting_as("bob").approve_stage_request("demo", 1)
    assert _head(api) == before
    assert [r.status for r in api.list_stage_requests("demo")] == ["expired"]
    again = api.request_stage("demo", 1, "production")
    assert again.request == 2 and again.status == "pending"


def test_past_reads_show_requests_grants_and_policies_as_they_were(api: LocalRegistry) -> None:
    api.set_stage_policy("production", 1)
    api.grant_role("bob", "maintainer", model="demo")
    api.request_stage("demo", 1, "production")
    pending_at = _head(api)
    api.acting_as("bob").approve_stage_request("demo", 1)
    api.revoke_role("bob", "maintainer", model="demo")
    api.set_stage_policy("production", 0)
    then = api.list_stage_requests("demo", at_position=pending_at)
    assert [(r.status, r.approved_by) for r in then] == [("pending", ())]
    assert [r.status for r in api.list_stage_requests("demo")] == ["approved"]
    assert [g.role for g in api.describe_principal("bob", at_position=pending_at).roles] == ["maintainer"]
    assert api.describe_principal("bob").roles == ()
    assert [p.approvals for p in api.list_stage_policies(at_position=pending_at)] == [1]
    assert [p.approvals for p in api.list_stage_policies()] == [0]
    granted = [e for e in api.history("demo") if e.event_type in ("RoleGranted", "RoleRevoked")]
    assert [(e.actor, e.summary) for e in granted] == [
        ("alice", "role maintainer granted to 'bob' on model 'demo'"),
        ("alice", "role maintainer revoked from 'bob' on model 'demo'")]


def test_bad_input_is_one_line_and_writes_nothing(api: LocalRegistry) -> None:
    before = _head(api)
    with pytest.raises(NotFoundError, match="principal 'nobody' does not exist"):
        api.grant_role("nobody", "admin")
    with pytest.raises(InvalidInputError, match="unknown role 'boss'"):
        api.grant_role("bob", "boss")
    with pytest.raises(NotFoundError, match="model 'ghost' does not exist"):
        api.grant_role("bob", "viewer", model="ghost")
    with pytest.raises(ConflictError, match="does not hold admin"):
        api.revoke_role("bob", "admin")
    with pytest.raises(InvalidInputError, match="only staging and production"):
        api.set_stage_policy("archived", 1)
    with pytest.raises(InvalidInputError, match="approvals must be"):
        api.set_stage_policy("production", 11)
    with pytest.raises(ConflictError, match="not protected"):
        api.request_stage("demo", 1, "production")
    with pytest.raises(NotFoundError, match="no request"):
        api.approve_stage_request("demo", 1)
    assert _head(api) == before
    assert api.grant_role("bob", "viewer").changed and not api.grant_role("bob", "viewer").changed
    assert _head(api) == before + 1


# --- through a server: the SDK, the CLI and the HTTP API -----------------------------------------


@pytest.fixture
def team(db_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    home = tmp_path / "server-home"
    home.mkdir()
    with connect(db_url, home=home, actor="operator") as api:
        api.register_model("demo")
        api.create_version("demo")
        api.create_version("demo")
    tokens = {"alice": issue_token(db_url, home, "alice", role="maintainer"),
              "bob": issue_token(db_url, home, "bob", role=None),
              "carol": issue_token(db_url, home, "carol", role="viewer"),
              "root": issue_token(db_url, home, "root", role="admin")}
    with connect(db_url, home=home, actor="operator") as api:
        api.grant_role("bob", "maintainer", model="demo")
    server = ServerProcess(db_url, home)
    try:
        yield server, tokens
    finally:
        server.stop()


def _cli(server: ServerProcess, tmp_path: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = server.client_env(tmp_path / "client")
    env["MODELOG_TOKEN"] = token
    return subprocess.run([str(MODELOG), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_approval_flow_through_sdk_cli_and_http(team: tuple[ServerProcess, dict[str, str]],
                                                    tmp_path: Path) -> None:
    server, tokens = team
    set_policy = _cli(server, tmp_path, tokens["alice"], "policy", "set", "demo", "--stage", "production",
                      "--approvals", "1")
    assert set_policy.returncode == 1 and set_policy.stdout == ""
    assert set_policy.stderr == ("Error: permission denied: 'alice' needs the admin role on model 'demo' to set "
                                 "stage policy (an admin can run 'modelog grant alice admin --model demo')\n")
    done = _cli(server, tmp_path, tokens["root"], "policy", "set", "demo", "--stage", "production", "--approvals", "1")
    assert done.returncode == 0, done.stderr
    with Client(api=RemoteRegistry(server.url, token=tokens["alice"])) as alice:
        with pytest.raises(ConflictError, match="protected"):
            alice.set_stage("demo", 1, "production")
        requested = alice.get_model_version("demo", 1).request_stage("production")
        assert requested.status == "pending" and requested.requested_by == "alice"
        with pytest.raises(PermissionDeniedError, match="cannot approve it"):
            alice.approve("demo", 1)
    with Client(api=RemoteRegistry(server.url, token=tokens["carol"])) as carol:
        with pytest.raises(PermissionDeniedError, match="needs the maintainer role on model 'demo'"):
            carol.approve("demo", 1)
        assert [r.status for r in carol.stage_requests("demo")] == ["pending"]
    approved = _cli(server, tmp_path, tokens["bob"], "model", "version", "approve", "demo", "1")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == ("Request 1 (version 1 of model 'demo' to production) approved: version 1 moved to "
                               "production.\n")
    headers = {"Authorization": f"Bearer {tokens['carol']}"}
    found = httpx.get(f"{server.url}/api/v1/models/demo/requests", headers=headers).json()["items"]
    assert [(r["status"], r["requested_by"], r["approved_by"]) for r in found] == [("approved", "alice", ["bob"])]
    history = httpx.get(f"{server.url}/api/v1/models/demo/history", headers=headers).json()["items"]
    moves = [(e["actor"], e["event_type"]) for e in history if e["event_type"].startswith(("Stage", "Role"))
             or e["event_type"] == "ModelVersionStageChanged"]
    assert moves == [("operator", "RoleGranted"), ("alice", "StageChangeRequested"), ("bob", "StageChangeApproved"),
                     ("bob", "ModelVersionStageChanged")]
    shown = _cli(server, tmp_path, tokens["root"], "principal", "show", "bob", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert '"role": "maintainer"' in shown.stdout and '"model": "demo"' in shown.stdout
    own = _cli(server, tmp_path, tokens["bob"], "principal", "show", "bob")
    assert own.returncode == 0 and "maintainer  model demo" in own.stdout
    other = _cli(server, tmp_path, tokens["bob"], "principal", "show", "alice")
    assert other.returncode == 1 and "needs the admin role" in other.stderr


def test_a_remote_grant_needs_admin_where_it_grants(team: tuple[ServerProcess, dict[str, str]],
                                                    tmp_path: Path) -> None:
    server, tokens = team
    refused = _cli(server, tmp_path, tokens["alice"], "grant", "carol", "maintainer", "--model", "demo")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "needs the admin role" in refused.stderr
    granted = _cli(server, tmp_path, tokens["root"], "grant", "carol", "maintainer", "--model", "demo")
    assert granted.returncode == 0 and granted.stdout == "Role maintainer on model 'demo' granted to 'carol'.\n"
    with Client(api=RemoteRegistry(server.url, token=tokens["carol"])) as carol:
        carol.set_alias("demo", 2, "candidate")  # maintainer on demo now
        with pytest.raises(PermissionDeniedError, match="needs the contributor role"):
            carol.register_model("other")


def test_export_and_import_carry_grants_policies_and_approvals(api: LocalRegistry, tmp_path: Path) -> None:
    api.grant_role("bob", "maintainer", model="demo")
    api.set_stage_policy("production", 1)
    api.request_stage("demo", 1, "production")
    api.acting_as("bob").approve_stage_request("demo", 1)
    out = io.StringIO()
    count = api.export_log(out)
    with connect(f"sqlite:///{tmp_path / 'copy.db'}", home=tmp_path / "copy") as copy:
        assert copy.import_log(io.StringIO(out.getvalue())) == count  # the rules replay every line first
        assert copy.get_version("demo", 1).stage == "production"
        assert [r.status for r in copy.list_stage_requests("demo")] == ["approved"]
        assert [(g.role, g.model) for g in copy.describe_principal("bob").roles] == [("maintainer", "demo")]
        assert [p.approvals for p in copy.list_stage_policies()] == [1]
