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
from modelog.application.artifact_content import read_whole
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


def test_create_version_logs_its_metadata_in_the_same_command_or_creates_nothing(api: RegistryAPI) -> None:
    api.register_model("m")
    api.create_version("m")
    api.delete_version("m", 1)  # the new version is number 2: "latest" inside the command is the one it created
    created = api.create_version("m", tags=["t"], metadata={"mlflow.source": "s3://b/m", "accuracy": 0.9})
    assert created.number == 2
    assert [e.event_type for e in created.events] == ["ModelVersionCreated", "ModelVersionMetadataLogged"]
    assert api.describe_version("m", 2).metadata == {"mlflow.source": "s3://b/m", "accuracy": 0.9}
    events = api.log_events(from_position=api.log_head().position - 1, limit=10)
    assert [e.event_type for e in events] == ["ModelVersionCreated", "ModelVersionMetadataLogged"]
    assert events[0].meta["span"] == events[1].meta["span"]  # one transaction, one command boundary
    head = api.log_head().position
    with pytest.raises(InvalidInputError):
        api.create_version("m", metadata={"bad": float("nan")})
    assert api.log_head().position == head and [v.number for v in api.list_versions("m")] == [2]


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
    view, data = read_whole(api, artifact.artifact_id)
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


def test_history_by_name_shows_every_model_that_held_it(api: RegistryAPI) -> None:
    """Issue 12.8: a name deleted and registered again keeps the earlier model's history, kept apart."""
    first = api.register_model("reborn").model_id
    api.create_version("reborn", description="old")
    api.delete_model("reborn")
    second = api.register_model("reborn").model_id
    api.create_version("reborn", description="new")
    entries = api.history("reborn")
    assert [e.model_id for e in entries] == [first] * 3 + [second] * 2  # one model after the other, never mixed
    assert [e.event_type for e in entries] == ["ModelRegistered", "ModelVersionCreated", "ModelDeleted",
                                               "ModelRegistered", "ModelVersionCreated"]
    before = api.history("reborn", at_position=entries[2].position)
    assert {e.model_id for e in before} == {first}
    client = Client(api=api)
    assert [e.data["description"] for e in client.get_model_version("reborn", 1).history()
            if e.event_type == "ModelVersionCreated"] == ["new"]  # the current model's version 1 only


def test_a_rename_through_any_implementation_and_the_client(api: RegistryAPI) -> None:
    model_id = api.register_model("churn", tags=["team-a"]).model_id
    api.create_version("churn")
    api.set_alias("churn", 1, "champion")
    done = api.rename_model("churn", "retention")
    assert (done.model_id, done.model_name, [e.event_type for e in done.events]) == \
        (model_id, "retention", ["ModelNameReleased", "ModelRenamed", "ModelNameClaimed"])
    assert api.get_version("retention", "@champion").model_name == "retention"
    with pytest.raises(NotFoundError, match="^model 'churn' does not exist"):
        api.get_model("churn")
    with pytest.raises(ConflictError, match="^a model named 'Retention' already exists$"):
        api.register_model("Retention")
    renamed = Client(api=api).rename_model("retention", "Retention")  # only the case
    assert (renamed.id, renamed.name, renamed.tags) == (model_id, "Retention", ("team-a",))
    assert [e.event_type for e in api.history("retention")][-2:] == ["ModelRenamed", "ModelRenamed"]


# --- everyday use: describe, metadata, compare, search, completion, suggestions ----------------


def _churn(api: RegistryAPI) -> None:
    api.register_model("churn", tags=["team-a"])
    for _ in range(3):
        api.create_version("churn")
    api.log_metadata("churn", 1, {"accuracy": 0.81, "params": {"depth": 3, "features": ["a", "b"]}})
    api.log_metadata("churn", 2, {"accuracy": 0.95, "framework": "sklearn", "calibrated": True})
    api.log_metadata("churn", 1, {"accuracy": 0.91})  # logged again: the history keeps 0.81
    api.update_version("churn", 2, stage="production", add_tags=["reviewed"], set_aliases=["champion"])


def test_version_metadata_is_logged_as_events_and_described(api: RegistryAPI) -> None:
    _churn(api)
    first = api.describe_version("churn", 1)
    assert first.metadata == {"accuracy": 0.91, "params": {"depth": 3, "features": ["a", "b"]}}
    assert [(m.key, m.value) for m in first.metadata_history] == [
        ("accuracy", 0.81), ("params", {"depth": 3, "features": ["a", "b"]}), ("accuracy", 0.91)]
    assert first.metrics() == {"accuracy": 0.91}
    champion = api.describe_version("churn", "@champion")
    assert (champion.version.number, champion.version.tags, champion.metadata["calibrated"]) == (2, ("reviewed",),
                                                                                                   True)
    assert [(h.data["from_stage"], h.data["to_stage"]) for h in champion.stage_history] == [("none", "production")]
    events = [e.event_type for e in api.log_events(limit=100)]
    assert events.count("ModelVersionMetadataLogged") == 3
    assert api.verify_projections().ok


def test_a_version_is_created_with_its_metadata_in_one_transaction(api: RegistryAPI) -> None:
    api.register_model("churn")
    api.create_version("churn", description="first")
    created = api.create_version("churn", tags=["imported"], metadata={"origin.version": 7, "origin.by": "ann"})
    assert created.number == 2
    assert [e.event_type for e in created.events] == ["ModelVersionCreated", "ModelVersionMetadataLogged"]
    assert len({e.meta["correlation_id"] for e in created.events}) == 1  # one command, one transaction
    assert api.describe_version("churn", 2).metadata == {"origin.version": 7, "origin.by": "ann"}
    head = api.log_head().position
    with pytest.raises(InvalidInputError, match="metadata key"):
        api.create_version("churn", metadata={"a/b": 1})
    assert api.log_head().position == head  # the version was not created without its metadata
    assert [v.number for v in api.list_versions("churn")] == [1, 2]


def test_metadata_as_of_a_past_position_shows_the_value_then(api: RegistryAPI) -> None:
    _churn(api)
    logged = [e.position for e in api.log_events(limit=100) if e.event_type == "ModelVersionMetadataLogged"]
    before_relog = api.describe_version("churn", 1, at_position=logged[-1] - 1)
    assert before_relog.metadata["accuracy"] == 0.81
    assert api.describe_version("churn", 1, at_position=logged[0] - 1).metadata == {}


def test_bad_metadata_is_refused_and_writes_nothing(api: RegistryAPI) -> None:
    _churn(api)
    head = api.log_head().position
    for bad, why in (({}, "empty"), ({"x": float("nan")}, "finite"), ({"x": None}, "not a number"),
                     ({"x": "y" * 20_000}, "longer than"), ({"a/b": 1}, "metadata key"),
                     ({"x": [[[[[[1]]]]]]}, "nested")):
        with pytest.raises(InvalidInputError, match=why):
            api.log_metadata("churn", 1, bad)
    with pytest.raises(InvalidInputError):  # the whole update is refused, not only its metadata
        api.update_version("churn", 1, name="renamed", metadata={"x": float("inf")})
    assert api.log_head().position == head and api.get_version("churn", 1).name == "1"


def test_describe_model_compare_and_search_by_metric(api: RegistryAPI) -> None:
    _churn(api)
    described = api.describe_model("churn")
    assert described.by_stage() == {"none": [1, 3], "production": [2]}
    assert described.aliases == {"champion": 2} and described.last_event is not None
    compared = api.compare_versions("churn", [1, "production"])
    assert [d.version.number for d in compared.versions] == [1, 2]
    found = api.search_versions("churn", sort_by="metric:accuracy", filters=["metric:accuracy>0.9"])
    assert [(r.version.number, r.metadata["accuracy"]) for r in found] == [(2, 0.95), (1, 0.91)]
    assert [r.version.number for r in api.search_versions("churn", filters=["metadata:framework=sklearn"])] == [2]
    with pytest.raises(InvalidInputError, match="is not metric:KEY"):
        api.search_versions("churn", filters=["accuracy>1"])
    with pytest.raises(InvalidInputError, match="at least two"):
        api.compare_versions("churn", [1])


def test_model_summaries_name_the_stage_holders_and_the_last_actor(api: RegistryAPI) -> None:
    _churn(api)
    api.register_model("empty")
    actor = api.log_events(limit=1)[0].meta["actor"]  # whoever this implementation records (remote: the server)
    api.set_stage("churn", 3, "staging")
    page = api.list_model_summaries()
    assert [(s.model.name, s.production, s.staging, s.updated_by) for s in page.items] == [
        ("churn", 2, 3, actor), ("empty", None, None, actor)]
    first_version = next(e.position for e in api.log_events(limit=100) if e.event_type == "ModelVersionCreated")
    past = api.list_model_summaries(at_position=first_version)
    assert [(s.model.name, s.production) for s in past.items] == [("churn", None)]


def test_unknown_names_suggest_the_closest_and_consumers_of_missing_models_say_so(api: RegistryAPI) -> None:
    _churn(api)
    with pytest.raises(NotFoundError, match="did you mean 'churn'"):
        api.get_model("chrun")
    with pytest.raises(NotFoundError, match="did you mean 'churn'"):
        api.create_version("chrun")
    from modelog.application.wire import model_context_from_wire

    consumer = model_context_from_wire({"name": "chrun", "version": "production"})
    with pytest.raises(NotFoundError, match="^model 'chrun' does not exist; did you mean 'churn'\\?$"):
        api.start_run("r-missing", "consumer", model=consumer)
    assert [m.name for m in api.list_models().items] == ["churn"]


def test_run_ids_are_found_by_a_unique_prefix(api: RegistryAPI) -> None:
    api.start_run("5ba887e3-aaaa", "train")
    api.start_run("5ba887e3-bbbb", "train")
    api.start_run("77aa0000-cccc", "train")
    assert api.get_run("77aa").run_id == "77aa0000-cccc"
    assert api.list_run_steps("77aa") == []
    with pytest.raises(InvalidInputError, match="ambiguous"):
        api.get_run("5ba887e3")
    with pytest.raises(NotFoundError):
        api.get_run("ffff")


def test_completion_offers_models_selectors_and_run_ids(api: RegistryAPI) -> None:
    _churn(api)
    api.register_model("chess")
    api.start_run("abc123", "train")
    assert api.complete("model", "ch") == ["chess", "churn"]
    assert api.complete("model", "CHU") == ["churn"]
    assert api.complete("version", "", model="churn") == ["1", "2", "3", "production", "latest", "@champion"]
    assert api.complete("version", "@", model="churn") == ["@champion"]
    assert api.complete("version", "", model="nope") == []
    assert api.complete("run", "ab") == ["abc123"]
    with pytest.raises(InvalidInputError, match="cannot complete"):
        api.complete("colour")


def test_artifact_ids_are_found_by_a_unique_prefix(api: RegistryAPI) -> None:
    from modelog import pipeline, step

    @step
    def produce() -> int:
        return 7

    @pipeline(enable_cache=False)
    def make() -> None:
        produce()

    with Client(api=api):
        make()
    (artifact,) = api.list_artifacts()
    assert api.get_artifact(artifact.artifact_id[:8]) == artifact
    assert read_whole(api, artifact.artifact_id[:8])[0] == artifact
    assert api.complete("artifact", artifact.artifact_id[:4]) == [artifact.artifact_id]


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
