"""Renaming a model on every backend: the views and their history twins follow it, the past keeps the old name.

After ``rename_model("demo", "fraud")`` present reads find the model (versions, stages, aliases, tags,
links, runs) as ``fraud`` and not as ``demo``; reads as of a position before the rename find it as
``demo`` and not as ``fraud``; ``demo`` is free for another model; ``history("fraud")`` is the whole
stream; the twins equal a rebuild and the replay path; the rules accept the log; per-model grants
stay with the model. Refusals are one line and write nothing.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from modelog.application.local import LocalRegistry, connect
from modelog.projections.queries import ReadModel
from modelog.projections.rebuild import rebuild, verify
from modelog.registry import commands as cmd
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError, RegistryError
from modelog.registry.hashing import canonical_json
from modelog.registry.rules import first_breach
from modelog.registry.store import parse_time
from modelog.registry.transfer import END_KEY

from tests.integration.test_stateful import dump_views
from tests.log_support import rechained


class Ticking:
    """One second per append, so every append has its own instant."""

    def __init__(self) -> None:
        self.now = datetime(2023, 5, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def api(registry: Any) -> LocalRegistry:
    """The service API over the test's registry, with a clock that ticks one second per append."""
    registry.store.clock = Ticking()
    return LocalRegistry.over(registry)


def _demo(api: LocalRegistry) -> None:
    api.register_model("demo", fields={"description": "scores fraud"}, tags=["team=risk"])
    api.create_version("demo")
    api.create_version("demo", name="cand", tags=["reviewed"])
    api.set_stage("demo", 1, "production")
    api.set_alias("demo", "cand", "champion")
    api.start_run("run-1", "train", model=cmd.ModelContext(name="demo", version=1))
    api.finish_run("run-1")


def _model_reads(reads: Any, name: str, **point: Any) -> dict[str, Any]:
    return {
        "model": reads.get_model(name, **point).as_dict(),
        "versions": [v.as_dict() for v in reads.list_versions(name, **point)],
        "champion": reads.get_version(name, "@champion", **point).number,
        "production": reads.get_version(name, "production", **point).number,
        "runs": [r.as_dict() for r in reads.list_version_runs(name, 1, **point)],
    }


def test_present_reads_follow_the_rename_and_past_reads_keep_the_old_name(api: LocalRegistry,
                                                                          registry: Any) -> None:
    _demo(api)
    before = registry.store.head()
    old = _model_reads(api, "demo")
    done = api.rename_model("DEMO", "fraud")  # the old name as any spelling of its key
    assert (done.model_name, done.model_id) == ("fraud", old["model"]["id"])
    assert [e.event_type for e in done.events] == ["ModelNameReleased", "ModelRenamed", "ModelNameClaimed"]

    now = _model_reads(api, "fraud")
    assert now["model"]["name"] == "fraud" and now["model"]["id"] == old["model"]["id"]
    assert now["model"]["tags"] == ["team=risk"] and now["model"]["description"] == "scores fraud"
    assert now["model"]["updated_at"] > old["model"]["updated_at"]
    assert [v["model_name"] for v in now["versions"]] == ["fraud", "fraud"]
    assert [(v["number"], v["name"], v["stage"], v["aliases"], v["tags"]) for v in now["versions"]] == \
        [(1, "1", "production", [], []), (2, "cand", "none", ["champion"], ["reviewed"])]
    assert (now["champion"], now["production"]) == (2, 1)
    assert [r["model_name"] for r in now["runs"]] == ["fraud"]  # a run shows its model's name
    assert api.get_run("run-1").model_name == "fraud"
    assert [r.model_name for r in api.list_runs()] == ["fraud"]
    assert [m.name for m in api.list_models().items] == ["fraud"]
    assert [m.name for m in api.list_models(name="fra").items] == ["fraud"]
    assert api.list_models(name="dem").items == []
    with pytest.raises(NotFoundError, match="^model 'demo' does not exist"):
        api.get_model("demo")

    # the past: the old name then, not the new one
    point = {"at_position": before}
    assert _model_reads(api, "demo", **point) == old
    moment = parse_time(next(iter(registry.store.read_all(from_position=before, limit=1))).recorded_at)
    assert _model_reads(api, "demo", as_of=moment) == old
    with pytest.raises(NotFoundError, match="did not exist at log position"):
        api.get_model("fraud", **point)
    assert [m.name for m in api.list_models(**point).items] == ["demo"]
    assert api.get_run("run-1", **point).model_name == "demo"
    assert [r.model_name for r in api.list_runs(**point)] == ["demo"]

    # the reference replay answers the same, and the twins equal a rebuild; the rules accept the log
    replayed = ReadModel(registry.engine, registry.store, temporal=False)
    try:
        for position in (before, registry.store.head()):
            name = "demo" if position == before else "fraud"
            at = {"at_position": position}
            assert _model_reads(replayed, name, **at) == _model_reads(api.reads, name, **at)
            assert replayed.get_run("run-1", **at) == api.reads.get_run("run-1", **at)
            assert replayed.list_runs(**at) == api.reads.list_runs(**at)
    finally:
        replayed.close()
    report = verify(registry.engine, registry.store)
    assert report.ok, report.differences
    views = dump_views(registry.engine)
    rebuild(registry.engine, registry.store)
    assert dump_views(registry.engine) == views
    assert first_breach(registry.store.read_all()) == (registry.store.head(), None)


def test_the_old_name_is_free_and_history_follows_the_model(api: LocalRegistry, registry: Any) -> None:
    _demo(api)
    before = registry.store.head()
    api.rename_model("demo", "fraud")
    api.create_version("fraud")
    api.register_model("demo")  # the old name, now another model's
    api.create_version("demo")

    history = api.history("fraud")
    kinds = [e.event_type for e in history]
    assert kinds[0] == "ModelRegistered" and kinds.count("ModelRenamed") == 1
    assert kinds.index("ModelRenamed") < kinds.index("ModelVersionCreated", kinds.index("ModelRenamed"))
    renamed = next(e for e in history if e.event_type == "ModelRenamed")
    assert renamed.summary == "renamed model 'demo' to 'fraud'" and renamed.actor == "tester"
    assert len({e.model_id for e in history}) == 1

    other = api.history("demo")  # only the model that goes by the name now
    assert {e.model_id for e in other} == {api.get_model("demo").id} != {history[0].model_id}
    assert [e.event_type for e in api.history("demo", at_position=before)] == \
        [e.event_type for e in history if e.position <= before]
    assert api.get_version("demo", "latest").number == 1 and api.get_version("fraud", "latest").number == 3

    api.rename_model("fraud", "scorer")
    with pytest.raises(NotFoundError, match="^no model is named 'fraud': the model that held the name was renamed "
                                            "\\(now 'scorer'\\); see its history under that name$"):
        api.history("fraud")
    assert api.history("fraud", at_position=before + 4) == \
        [e for e in api.history("scorer") if e.position <= before + 4]
    page = api.history_page("scorer", kind="ModelRenamed")
    assert [e.summary for e in page.entries] == \
        ["renamed model 'fraud' to 'scorer'", "renamed model 'demo' to 'fraud'"]  # newest first
    assert "ModelRenamed" in page.kinds


def test_a_case_only_rename_keeps_the_claim_and_is_followed(api: LocalRegistry, registry: Any) -> None:
    _demo(api)
    before = registry.store.head()
    done = api.rename_model("demo", "Demo")
    assert [e.event_type for e in done.events] == ["ModelRenamed"]
    assert api.get_model("demo").name == "Demo" and api.get_model("DEMO").name == "Demo"
    assert api.get_model("demo", at_position=before).name == "demo"
    assert [e.event_type for e in api.history("Demo")][-1] == "ModelRenamed"
    with pytest.raises(ConflictError, match="already exists"):
        api.register_model("DEMO")
    assert first_breach(registry.store.read_all())[1] is None


def test_refusals_are_one_line_and_write_nothing(api: LocalRegistry, registry: Any) -> None:
    _demo(api)
    api.register_model("other")
    api.register_model("coco")
    head = registry.store.head()
    refusals: list[tuple[type[Exception], str, str, str]] = [
        (NotFoundError, "ghost", "x", "model 'ghost' does not exist"),
        (ConflictError, "demo", "OTHER", "a model named 'OTHER' already exists"),
        (ConflictError, "demo", "\u0441\u043e\u0441\u043e", "looks like the name of the existing model 'coco'"),
        (InvalidInputError, "demo", "demo", "model 'demo' is already named 'demo'"),
        (InvalidInputError, "demo", "a/b", "model name"),
        (InvalidInputError, "demo", "", "model name"),
    ]
    for kind, name, new_name, message in refusals:
        with pytest.raises(kind, match=message) as refused:
            api.rename_model(name, new_name)
        assert "\n" not in str(refused.value)
    api.delete_model("other")
    with pytest.raises(NotFoundError, match="'other' does not exist"):
        api.rename_model("other", "x")
    assert registry.store.head() == head + 2  # the deletion's two events, nothing else
    assert api.rename_model("coco", "\u0441\u043e\u0441\u043e").changed  # looking like its own name spoofs nobody


def test_per_model_grants_survive_the_rename(api: LocalRegistry, registry: Any) -> None:
    from modelog.application.access import Authenticator
    from modelog.application.permissions import Guard, GuardedRegistry
    from modelog.registry.errors import PermissionDeniedError

    _demo(api)
    api.add_principal("alice")
    api.grant_role("alice", "maintainer", model="demo")
    authenticator = Authenticator(registry.store)
    guarded: Any = GuardedRegistry(api.acting_as("alice"), Guard(authenticator, "alice"))

    def as_alice(use_case: str, *args: Any) -> Any:
        authenticator.refresh()  # as the server does before each request
        return getattr(guarded, use_case)(*args)

    as_alice("rename_model", "demo", "fraud")  # a maintainer of the model may rename it
    as_alice("set_stage", "fraud", 2, "staging")
    as_alice("rename_model", "fraud", "scorer")
    assert as_alice("get_model", "scorer").name == "scorer"
    api.register_model("demo")  # a new model under the old name: the grant is not its
    with pytest.raises(PermissionDeniedError, match="needs the maintainer role on model 'demo'"):
        as_alice("rename_model", "demo", "mine")
    renames = [e for e in api.history("scorer") if e.event_type == "ModelRenamed"]
    assert [e.actor for e in renames] == ["alice", "alice"]


def test_an_export_with_renames_imports_and_a_forged_rename_is_refused(api: LocalRegistry, tmp_path: Path) -> None:
    _demo(api)
    api.rename_model("demo", "fraud")
    api.rename_model("fraud", "Fraud")
    out = io.StringIO()
    api.export_log(out)
    with connect(f"sqlite:///{tmp_path / 'copy.db'}", home=tmp_path / "copy") as copy:
        assert copy.import_log(io.StringIO(out.getvalue())) == api.log_head().position
        assert copy.get_model("fraud").name == "Fraud" and copy.get_run("run-1").model_name == "Fraud"
        assert copy.verify_projections().ok
    records = [json.loads(line) for line in out.getvalue().splitlines()][:-1]
    renamed = next(r for r in records if r["event_type"] == "ModelRenamed")
    renamed["data"]["old_name"] = "ghost"  # a rename of a name the model never had, the chain made whole again
    rechained(records)
    end = {END_KEY: {"events": len(records), "last_hash": records[-1]["hash"]}}
    text = "".join(canonical_json(r) + "\n" for r in [*records, end])
    with connect(f"sqlite:///{tmp_path / 'forged.db'}", home=tmp_path / "forged") as target:
        expected = (f"\\(position {renamed['position']}\\): ModelRenamed on model-.*: the model is named 'demo', "
                    "not 'ghost'; nothing was imported")
        with pytest.raises(RegistryError, match=expected) as refused:
            target.import_log(io.StringIO(text))
        assert "\n" not in str(refused.value) and target.log_head().position == 0
