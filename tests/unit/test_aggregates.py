"""Decisions of the Model aggregate: events decided from state, state changed only by applying them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from modelog.registry import events as ev
from modelog.registry.aggregates import ModelState, NameClaim, VersionState
from modelog.registry.commands import CreateVersion, DeleteVersion, LinkArtifact, LinkRun, UpdateModel
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError
from modelog.registry.selectors import parse_selector
from modelog.registry.values import ArtifactKind, DeleteReason, Stage


def registered(versions: int = 0) -> ModelState:
    model = ModelState()
    model.apply(ev.ModelRegistered(model_id="m1", name="demo", tags=("a",)))
    for _ in range(versions):
        apply(model, model.create_version(None, None, ()))
    return model


def apply(model: ModelState, decided: list[ev.Event]) -> list[ev.Event]:
    for event in decided:
        model.apply(event)
    return decided


def version(model: ModelState, selector: Any) -> VersionState:
    return model.resolve(parse_selector(selector))


def link(artifact_id: str, kind: str = "data", name: str = "predictions") -> dict[str, Any]:
    return {"pipeline": "p", "step": "s", "name": name, "kind": ArtifactKind(kind), "artifact_id": artifact_id,
            "artifact_name": name, "artifact_version": 1, "content_hash": "h-" + artifact_id, "run_id": "r1"}


def test_decisions_never_mutate_state() -> None:
    model = registered(2)
    before = copy.deepcopy(model)
    model.create_version("candidate", None, ())
    model.set_stage(version(model, 1), Stage.PRODUCTION, False)
    model.set_alias(version(model, 2), "champion")
    model.delete_version(version(model, 2), DeleteReason.USER, None)
    model.link_artifact(version(model, 1), link("a1"), False)
    model.delete()
    assert model == before


def test_numbers_are_never_reused_after_deletes() -> None:
    model = registered(3)
    apply(model, model.delete_version(version(model, 3), DeleteReason.USER, None))
    created = apply(model, model.create_version(None, None, ()))
    assert created[0].number == 4 and created[0].name == "4"  # type: ignore[attr-defined]
    for number in (1, 2, 4):
        apply(model, model.delete_version(version(model, number), DeleteReason.USER, None))
    assert model.live_versions() == []
    assert apply(model, model.create_version(None, None, ()))[0].number == 5  # type: ignore[attr-defined]
    assert version(model, "latest").number == 5


def test_version_names_are_unique_within_the_model_by_key() -> None:
    model = registered()
    apply(model, model.create_version("Candidate", "first", ("x",)))
    with pytest.raises(ConflictError, match="already has a version named 'Candidate' \\(1\\)"):
        model.create_version("candidate", None, ())
    assert version(model, "CANDIDATE").number == 1
    apply(model, model.delete_version(version(model, 1), DeleteReason.USER, None))
    assert apply(model, model.create_version("candidate", None, ()))[0].number == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["12", "007", "production", "Staging", "none", "archived", "LATEST", "@x"])
def test_version_names_may_not_be_numbers_stages_latest_or_aliases(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="version name"):
        CreateVersion(model="demo", name=bad)


def test_renaming_a_version_checks_the_other_versions_only() -> None:
    model = registered(2)
    apply(model, model.update_version(version(model, 1), {"name": "alpha"}, (), ()))
    with pytest.raises(ConflictError, match="alpha"):
        model.update_version(version(model, 2), {"name": "ALPHA"}, (), ())
    renamed = model.update_version(version(model, 1), {"name": "Alpha"}, (), ())
    assert renamed[0].changes == {"name": "Alpha"}  # type: ignore[attr-defined]
    assert model.update_version(version(model, 1), {"name": "alpha"}, (), ()) == []


def test_stage_exclusivity_and_force_archives_the_holder_first() -> None:
    model = registered(3)
    apply(model, model.set_stage(version(model, 1), Stage.PRODUCTION, False))
    with pytest.raises(ConflictError, match="production of model 'demo' is held by version 1; use force"):
        model.set_stage(version(model, 2), Stage.PRODUCTION, False)
    decided = apply(model, model.set_stage(version(model, 2), Stage.PRODUCTION, True))
    assert [(e.number, e.from_stage, e.to_stage, e.forced, e.displaced_by) for e in decided] == [  # type: ignore
        (1, Stage.PRODUCTION, Stage.ARCHIVED, True, 2), (2, Stage.NONE, Stage.PRODUCTION, True, None)]
    assert [v.stage for v in model.live_versions()] == [Stage.ARCHIVED, Stage.PRODUCTION, Stage.NONE]
    apply(model, model.set_stage(version(model, 3), Stage.STAGING, False))  # staging is separate
    apply(model, model.set_stage(version(model, 3), Stage.ARCHIVED, False))  # archived holds many
    assert [v.number for v in model.live_versions() if v.stage == Stage.ARCHIVED] == [1, 3]
    assert model.set_stage(version(model, 2), Stage.PRODUCTION, False) == []
    assert version(model, "production").number == 2


def test_a_deleted_holder_does_not_block_its_stage() -> None:
    model = registered(2)
    apply(model, model.set_stage(version(model, 1), Stage.STAGING, False))
    apply(model, model.delete_version(version(model, 1), DeleteReason.USER, None))
    decided = model.set_stage(version(model, 2), Stage.STAGING, False)
    assert len(decided) == 1 and not decided[0].forced  # type: ignore[attr-defined]


def test_latest_is_a_selector_not_a_stage() -> None:
    with pytest.raises(InvalidInputError, match="unknown stage 'latest'"):
        from modelog.registry.commands import SetStage

        SetStage(model="demo", version=1, stage="latest")


def test_aliases_move_between_versions_and_can_be_removed() -> None:
    model = registered(2)
    first = apply(model, model.set_alias(version(model, 1), "champion"))
    assert first == [ev.ModelVersionAliasSet(alias="champion", number=1, previous_number=None)]
    moved = apply(model, model.set_alias(version(model, 2), "champion"))
    assert moved == [ev.ModelVersionAliasSet(alias="champion", number=2, previous_number=1)]
    assert model.set_alias(version(model, 2), "champion") == []
    assert version(model, "@champion").number == 2
    removed = apply(model, model.remove_alias("champion"))
    assert removed == [ev.ModelVersionAliasRemoved(alias="champion", number=2)]
    with pytest.raises(NotFoundError, match="no alias 'champion'; aliases: none"):
        model.remove_alias("champion")
    with pytest.raises(NotFoundError, match="has no version @champion"):
        version(model, "@champion")


def test_deleting_a_version_removes_its_aliases_in_the_same_decision() -> None:
    model = registered(2)
    apply(model, model.set_alias(version(model, 2), "b"))
    apply(model, model.set_alias(version(model, 2), "a"))
    apply(model, model.set_alias(version(model, 1), "other"))
    decided = apply(model, model.delete_version(version(model, 2), DeleteReason.USER, None))
    assert [type(e).__name__ for e in decided] == ["ModelVersionAliasRemoved"] * 2 + ["ModelVersionDeleted"]
    assert model.aliases == {"other": 1}


def test_artifact_links_count_up_per_key_and_relinking_is_idempotent() -> None:
    model = registered(1)
    target = version(model, 1)
    assert apply(model, model.link_artifact(target, link("a1"), False))[0].link_version == 1  # type: ignore
    assert apply(model, model.link_artifact(target, link("a2"), False))[0].link_version == 2  # type: ignore
    assert model.link_artifact(target, link("a1"), False) == []
    assert model.link_artifact(target, link("a2"), False) == []
    other_kind = apply(model, model.link_artifact(target, link("m1", kind="model"), False))
    assert other_kind[0].link_version == 1  # type: ignore[attr-defined]
    overwrite = apply(model, model.link_artifact(target, link("a3"), True))
    assert [type(e).__name__ for e in overwrite] == ["ArtifactUnlinked", "ArtifactLinked"]
    assert overwrite[1].link_version == 1  # type: ignore[attr-defined]
    assert apply(model, model.link_artifact(target, link("a4"), False))[0].link_version == 2  # type: ignore
    assert target.links[("p", "s", "predictions", "data")] == ["a3", "a4"]
    assert target.links[("p", "s", "predictions", "model")] == ["m1"]


def test_overwriting_a_key_that_holds_only_that_artifact_changes_nothing() -> None:
    model = registered(1)
    apply(model, model.link_artifact(version(model, 1), link("a1"), False))
    assert model.link_artifact(version(model, 1), link("a1"), True) == []


def test_run_links_are_idempotent_by_run_id() -> None:
    model = registered(1)
    assert len(apply(model, model.link_run(version(model, 1), "r1", "train"))) == 1
    assert model.link_run(version(model, 1), "r1", "train") == []
    assert len(model.link_run(version(model, 1), "r2", "train")) == 1


def test_delete_for_a_pipeline_failure_names_the_failed_run() -> None:
    model = registered(1)
    decided = model.delete_version(version(model, 1), DeleteReason.PIPELINE_FAILURE, "r-9")
    assert decided == [ev.ModelVersionDeleted(number=1, reason=DeleteReason.PIPELINE_FAILURE, run_id="r-9")]
    assert DeleteVersion(model="demo", version=1, reason="pipeline_failure", run_id="r-9").reason \
        is DeleteReason.PIPELINE_FAILURE
    with pytest.raises(InvalidInputError, match="must name the failed run"):
        DeleteVersion(model="demo", version=1, reason="pipeline_failure")
    with pytest.raises(InvalidInputError, match="unknown delete reason 'oops'"):
        DeleteVersion(model="demo", version=1, reason="oops")


def test_model_updates_record_only_real_changes() -> None:
    model = registered()
    assert model.update({}, (), ("never-there",)) == []  # unknown tag removal is a no-op
    assert model.update({"license": None}, ("a",), ()) == []
    decided = apply(model, model.update({"license": "MIT"}, ("b", "a"), ("a", "zzz")))
    assert decided == [ev.ModelUpdated(changes={"license": "MIT"}, tags_added=("b",), tags_removed=("a",))]
    assert (model.fields["license"], model.tags) == ("MIT", ["b"])
    assert UpdateModel(model="demo", remove_tags=("x", "x")).remove_tags == ("x",)


def test_a_deleted_model_refuses_further_commands() -> None:
    model = registered(1)
    apply(model, model.delete())
    with pytest.raises(NotFoundError, match="does not exist"):
        model.create_version(None, None, ())
    with pytest.raises(NotFoundError):
        model.delete()


def test_name_claims_track_the_holder() -> None:
    claim = NameClaim()
    claim.apply(ev.ModelNameClaimed(name="demo", model_id="m1"))
    assert (claim.holder, claim.version) == ("m1", 1)
    claim.apply(ev.ModelNameReleased(name="demo", model_id="m1"))
    assert (claim.holder, claim.version) == (None, 2)


def test_resolution_errors_list_the_existing_versions() -> None:
    model = registered(2)
    apply(model, model.create_version("cand", None, ()))
    with pytest.raises(NotFoundError, match="has no version 9; existing versions: 1, 2, 3 \\('cand'\\)"):
        version(model, 9)
    with pytest.raises(NotFoundError, match="has no staging version; existing"):
        version(model, "staging")


def test_link_commands_validate_their_ids() -> None:
    with pytest.raises(InvalidInputError, match="run id"):
        LinkRun(model="demo", version=1, run_id="", pipeline="p")
    with pytest.raises(InvalidInputError, match="artifact id"):
        LinkArtifact(model="demo", version=1, pipeline="p", step="s", name="n", artifact_name="n", artifact_id="")
    with pytest.raises(InvalidInputError, match="artifact version"):
        LinkArtifact(model="demo", version=1, pipeline="p", step="s", name="n", artifact_name="n",
                     artifact_id="a", artifact_version=0)
    with pytest.raises(InvalidInputError, match="unknown artifact kind"):
        LinkArtifact(model="demo", version=1, pipeline="p", step="s", name="n", artifact_name="n",
                     artifact_id="a", kind="weights")


def test_a_rename_is_decided_from_state_and_applied_only_by_its_event() -> None:
    model = registered(1)
    decided = model.rename("fraud")
    assert model.name == "demo"  # deciding changed nothing
    assert [e.to_data() for e in decided] == [{"old_name": "demo", "new_name": "fraud"}]
    apply(model, decided)
    assert (model.name, model.model_id, sorted(model.versions)) == ("fraud", "m1", [1])
    apply(model, model.rename("Fraud"))  # only the case: a rename too
    assert model.name == "Fraud"
    with pytest.raises(InvalidInputError, match="^model 'Fraud' is already named 'Fraud'$"):
        model.rename("Fraud")
    apply(model, model.delete())
    with pytest.raises(NotFoundError, match="does not exist"):
        model.rename("other")


def test_the_rules_accept_a_possible_rename_and_refuse_impossible_ones() -> None:
    from modelog.registry.rules import RuleBreach, RuleCheck

    check, stream = RuleCheck(), "model-m1"
    with pytest.raises(RuleBreach, match="never registered"):
        check.check(1, stream, 1, ev.ModelRenamed(old_name="demo", new_name="fraud"))
    check.check(1, stream, 1, ev.ModelRegistered(model_id="m1", name="demo"))
    refused = {"the model is named 'demo', not 'other'": ev.ModelRenamed(old_name="other", new_name="fraud"),
               "the model is named 'demo' already": ev.ModelRenamed(old_name="demo", new_name="demo"),
               "model name": ev.ModelRenamed(old_name="demo", new_name="a/b")}
    for problem, event in refused.items():
        with pytest.raises(RuleBreach, match=problem):
            check.check(2, stream, 2, event)
    check.check(2, stream, 2, ev.ModelRenamed(old_name="demo", new_name="fraud"))
    check.check(3, stream, 3, ev.ModelRenamed(old_name="fraud", new_name="Fraud"))
    check.check(4, stream, 4, ev.ModelDeleted(name="Fraud"))
    with pytest.raises(RuleBreach, match="the model is deleted"):
        check.check(5, stream, 5, ev.ModelRenamed(old_name="Fraud", new_name="x"))
