"""The application layer: one service API that every adapter uses, and Client parity with the CLI.

The contract tests run on both implementations: in process (``LocalRegistry``) and through a
real ``modelog server`` process (``RemoteRegistry``).
"""

from __future__ import annotations

import hashlib
import inspect
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelog.application.api import RegistryAPI
from modelog.application.bootstrap import open_read_only
from modelog.application.local import LocalRegistry, connect
from modelog.application.remote import RemoteRegistry
from modelog.application.results import AliasRemoved, StageChanged, VersionUpdate
from modelog.registry.anchors import parse_anchor
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError, StorageError

from modelog import Client
from tests.server_support import ServerProcess


def _protocol_methods() -> list[str]:
    return sorted(name for name, value in vars(RegistryAPI).items()
                  if callable(value) and (not name.startswith("_") or name in ("__enter__", "__exit__")))


@pytest.mark.parametrize("implementation", [LocalRegistry, RemoteRegistry])
@pytest.mark.parametrize("name", _protocol_methods())
def test_every_implementation_has_every_use_case_with_the_same_signature(name: str, implementation: type) -> None:
    declared = inspect.signature(getattr(RegistryAPI, name))
    implemented = inspect.signature(getattr(implementation, name))
    assert list(implemented.parameters) == list(declared.parameters), name
    for parameter in declared.parameters.values():
        assert implemented.parameters[parameter.name].default == parameter.default, (name, parameter.name)
        assert implemented.parameters[parameter.name].kind == parameter.kind, (name, parameter.name)


class ForwardingRegistry:
    """Another implementation of the API: forwards every use case to an inner one and records its name.

    Stands in for the coming remote client: a Client built on it must work unchanged.
    """

    def __init__(self, inner: RegistryAPI) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)

    def __enter__(self) -> ForwardingRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


@pytest.fixture(params=["local", "remote"])
def api(request: pytest.FixtureRequest, registry: Any, db_url: str, home: Path) -> Iterator[RegistryAPI]:
    """The service API over the test's registry: in process, or through a real server process."""
    if request.param == "local":
        yield LocalRegistry.over(registry)
        return
    server = ServerProcess(db_url, home)
    try:
        with RemoteRegistry(server.url, token=server.token) as remote:
            yield remote
    finally:
        server.stop()
        assert server.stopped_gracefully(), server.log.read_text()


def test_a_client_runs_on_any_implementation_of_the_api(api: RegistryAPI) -> None:
    forwarding = ForwardingRegistry(api)
    client = Client(api=forwarding)  # type: ignore[arg-type]
    client.register_model("m")
    client.create_model_version("m")
    client.set_stage("m", 1, "production")
    assert client.get_model_version("m", "production").number == 1
    assert {"register_model", "create_version", "set_stage", "get_version"} <= set(forwarding.calls)


def test_update_version_applies_every_part_or_none(api: RegistryAPI) -> None:
    api.register_model("m")
    for _ in range(2):
        api.create_version("m")
    api.set_stage("m", 1, "production")
    api.set_alias("m", 1, "old")
    done = api.update_version("m", 2, stage="production", force=True, name="two", set_aliases=["best"],
                              remove_aliases=["old"])
    assert isinstance(done, VersionUpdate) and isinstance(done.stage, StageChanged)
    assert (done.stage.archived, done.stage.moved, done.stage.forced) == ((1,), True, True)
    assert [(a.alias, a.from_version, a.to_version) for a in done.aliases_set] == [("best", None, 2)]
    assert [(a.alias, a.from_version) for a in done.aliases_removed] == [("old", 1)]
    assert done.details is not None and len(done.events) == 5
    head = api.log_head().position
    with pytest.raises(NotFoundError):  # the unknown alias refuses the whole update
        api.update_version("m", 2, name="three", remove_aliases=["nope"])
    assert api.log_head().position == head and api.get_version("m", 2).name == "two"
    with pytest.raises(InvalidInputError, match="nothing to update"):
        api.update_version("m", 2)


def test_aliases_move_and_are_removed_with_typed_outcomes(api: RegistryAPI) -> None:
    api.register_model("m")
    api.create_version("m")
    api.create_version("m")
    first = api.set_alias("m", 1, "best")
    assert (first.alias, first.from_version, first.to_version, len(first.events)) == ("best", None, 1, 1)
    moved = api.set_alias("m", 2, "best")
    assert (moved.from_version, moved.to_version, moved.changed) == (1, 2, True)
    assert not api.set_alias("m", 2, "best").changed  # already there: no event
    removed = api.remove_alias("m", "best")
    assert isinstance(removed, AliasRemoved) and removed.from_version == 2
    assert api.get_version("m", 2).aliases == ()


def test_link_artifact_takes_hash_and_location_from_the_log(api: RegistryAPI, home: Path) -> None:
    client = Client(api=api)
    from modelog import pipeline, step

    @step
    def produce() -> int:
        return 41

    @pipeline(enable_cache=False)
    def make() -> None:
        produce()

    with client:
        make()
    (artifact,) = api.list_artifacts()
    api.register_model("target")
    api.create_version("target")
    linked = api.link_artifact("target", 1, artifact.artifact_id, name="answer", kind="model")
    assert linked.link_version == 1
    (link,) = api.list_links("target", 1, kind="model")
    assert (link.name, link.content_hash, link.pipeline, link.step) == ("answer", artifact.content_hash, "make",
                                                                        "produce")
    view, data = api.read_artifact(artifact.artifact_id)
    assert view == artifact and hashlib.sha256(data).hexdigest() == artifact.content_hash


def test_client_parity_runs_log_and_transfer(api: RegistryAPI, tmp_path: Path) -> None:
    with Client(api=api) as client:
        client.register_model("m", license="MIT")
        client.create_model_version("m")
        client.api.start_run("r1", "train")
        assert [r.run_id for r in client.list_runs(status="running")] == ["r1"]
        finished = client.fail_run("r1", reason="node lost")
        assert (finished.status, client.get_run("r1").error) == ("failed", "Abandoned: node lost")
        assert client.list_run_steps("r1") == []
        head = client.log_head()
        assert client.verify_log([head]).ok and client.verify_log().checked == head.position
        wrong = parse_anchor(f"{head.position}:{'0' * 64}")
        assert "does not match" in (client.verify_log([wrong]).anchor_problem or "")
        assert [e.position for e in client.log_events(limit=2)] == [1, 2]
        assert client.verify_projections().ok
        assert client.rebuild_projections().events == head.position
        count = client.export(tmp_path / "log.jsonl", log_only=True)
        assert count == head.position and not (tmp_path / "log.jsonl.partial").exists()
        buffer = io.StringIO()
        assert client.export(buffer) == count and buffer.getvalue() == (tmp_path / "log.jsonl").read_text()
    with Client(f"sqlite:///{tmp_path / 'copy.db'}", home=tmp_path / "copy") as copy:
        assert copy.import_log(tmp_path / "log.jsonl") == count
        assert copy.get_model("m").license == "MIT" and copy.log_head() == head


def test_a_registry_opened_read_only_answers_reads_and_refuses_commands_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "ro"
    with connect(home=home, writable=True) as api:
        api.register_model("m")
    reader = open_read_only(f"sqlite:///{home / 'registry.db'}", home=home, reason="an auditor's copy")
    with LocalRegistry(reader) as api:
        assert api.get_model("m").name == "m"
        refusal = "^cannot write to the registry: an auditor's copy; it can only be read$"
        with pytest.raises(StorageError, match=refusal):
            api.register_model("n")
        assert api.log_head().position == 2


def test_principals_and_tokens_are_audited_events_with_typed_outcomes(api: RegistryAPI) -> None:
    api.add_principal("alice")
    before = api.log_head().position
    with pytest.raises(ConflictError, match="^principal 'alice' already exists$"):
        api.add_principal("ALICE")
    issued = api.create_token("alice", expires="30d")
    assert issued.token is not None and issued.token.startswith(f"mlg_{issued.token_id}_") and issued.expires_at
    created = api.log_events(streams=[f"token-{issued.token_id}"])
    assert created[0].data["token_sha256"] == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token.split("_", 2)[2] not in repr(created)  # the log holds the hash, never the token
    listed = [t for t in api.list_tokens(principal="Alice")]
    assert [(t.token_id, t.principal, t.status()) for t in listed] == [(issued.token_id, "alice", "active")]
    revoked = api.revoke_token(issued.token_id)
    assert revoked.revoked and revoked.principal == "alice" and revoked.token is None
    with pytest.raises(ConflictError, match="already revoked"):
        api.revoke_token(issued.token_id)
    with pytest.raises(NotFoundError, match="^token 0000000000000000 does not exist"):
        api.revoke_token("0000000000000000")
    with pytest.raises(InvalidInputError, match="expiry '3x' is not a duration"):
        api.create_token("alice", expires="3x")
    api.disable_principal("alice")
    with pytest.raises(ConflictError, match="is disabled"):
        api.create_token("alice")
    with pytest.raises(NotFoundError, match="^principal 'nobody' does not exist"):
        api.create_token("nobody")
    assert {p.name: p.disabled for p in api.list_principals()}["alice"] is True
    assert {p.name: p.disabled for p in api.list_principals(at_position=before)}["alice"] is False
    assert [t.status() for t in api.list_tokens(principal="alice")] == ["revoked"]
    assert api.list_tokens(principal="alice", at_position=before) == []
    assert api.verify_projections().ok
