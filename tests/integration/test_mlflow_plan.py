"""The import's decisions on MLflow records (as the readers produce them), without MLflow itself: numbers and
gaps, several holders of a stage, names modelog refuses or merges, prompts, and what a re-run plans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelog.application.api import RegistryAPI
from modelog.application.local import connect
from modelog.application.mlflow_import import import_registry
from modelog.application.mlflow_plan import RegisterStep, VersionStep, plan_import
from modelog.application.mlflow_records import MlflowModel, MlflowSnapshot, MlflowVersion, redacted, source_kind
from modelog.registry.errors import InvalidInputError


@pytest.fixture
def api(registry: Any, db_url: str, home: Path) -> Iterator[RegistryAPI]:
    """The destination registry's service API."""
    with connect(db_url, home=home) as opened:
        yield opened


def _registry(*models: MlflowModel) -> MlflowSnapshot:
    return MlflowSnapshot(source="http://mlflow.test:5000", models=models)


def test_gaps_keep_mlflow_numbers_and_one_holder_per_stage(api: RegistryAPI) -> None:
    model = MlflowModel(name="m", aliases=(("best", 7), ("old", 4)), versions=(
        MlflowVersion(4, stage="Staging"), MlflowVersion(5, stage="Staging"), MlflowVersion(7, stage="Production"),
        MlflowVersion(9, stage="Production", tags=(("k", "v" * 200), ("huge", "x" * 20_000), ("a/b", "c")))))
    report = import_registry(api, _registry(model))
    assert report.ok
    assert [(v.number, v.stage, v.aliases) for v in api.list_versions("m")] == [
        (4, "archived", ("old",)), (5, "staging", ()), (7, "archived", ("best",)), (9, "production", ())]
    assert (report.count("versions"), report.count("deleted")) == (4, 5)  # 1, 2, 3, 6 and 8 are gaps
    assert {(n.mlflow_number, n.text.split(":")[0]) for n in report.notes} == {
        (4, "MLflow stage Staging imported as archived"), (7, "MLflow stage Production imported as archived"),
        (9, "version tag 'huge' not imported")}
    nine = api.describe_version("m", 9)
    assert nine.version.tags == ()  # 'k=vvv...' is longer than a tag may be, 'a/b=c' holds a '/': kept as metadata
    assert nine.metadata["mlflow.tags"] == [{"key": "k", "value": "v" * 200}, {"key": "a/b", "value": "c"}]
    assert plan_import(api, _registry(model)).steps == []


def test_refused_names_prompts_and_clashes_are_listed_not_imported(api: RegistryAPI) -> None:
    report = import_registry(api, _registry(
        MlflowModel(name="a/b", versions=(MlflowVersion(1),)),
        MlflowModel(name="Churn", versions=(MlflowVersion(1),)),
        MlflowModel(name="churn", versions=(MlflowVersion(1),)),
        MlflowModel(name="prompt", tags=(("mlflow.prompt.is_prompt", "true"),), versions=(MlflowVersion(1),))))
    assert report.ok
    assert [m.name for m in api.list_models().items] == ["Churn"]
    reasons = {r.model: r.reason for r in report.plan.refused}
    assert set(reasons) == {"a/b", "churn", "prompt"}
    assert "path separators" in reasons["a/b"] and "'Churn'" in reasons["churn"] and "prompt" in reasons["prompt"]


def test_a_new_mlflow_version_is_imported_on_the_next_run(api: RegistryAPI) -> None:
    first = MlflowModel(name="m", versions=(MlflowVersion(1, stage="Production"),))
    import_registry(api, _registry(first))
    later = MlflowModel(name="m", aliases=(("new", 3),), versions=(
        MlflowVersion(1, stage="Archived"), MlflowVersion(3, stage="None")))
    plan = plan_import(api, _registry(later))
    # Version 1 is there already (its stage is not changed back), 2 is a gap, 3 is new.
    assert [(type(s).__name__, getattr(s, "mlflow_number", None)) for s in plan.steps] == [
        ("VersionStep", 2), ("VersionStep", 3)]
    assert isinstance(plan.steps[1], VersionStep) and plan.steps[1].aliases == ("new",)
    assert (plan.models_present, plan.versions_present) == (1, 1)
    assert import_registry(api, _registry(later)).ok
    assert [(v.number, v.stage, v.aliases) for v in api.list_versions("m")] == [
        (1, "production", ()), (3, "none", ("new",))]


def test_renames_in_either_registry_are_matched_by_the_present_name(api: RegistryAPI) -> None:
    """MLflow keeps no history of renames: an import sees only names. After a rename on either side a model
    whose name modelog does not know is imported anew; renaming the modelog model to MLflow's name matches it."""
    first = MlflowModel(name="churn", versions=(MlflowVersion(1, stage="Production"), MlflowVersion(2)))
    assert import_registry(api, _registry(first)).ok
    api.rename_model("churn", "retention")  # renamed in modelog since the import
    assert [type(s).__name__ for s in plan_import(api, _registry(first)).steps] == \
        ["RegisterStep", "VersionStep", "VersionStep"]  # "churn" is free: it would be a new model
    renamed_in_mlflow = MlflowModel(name="retention", versions=first.versions)
    again = plan_import(api, _registry(renamed_in_mlflow))
    assert (again.steps, again.models_present, again.versions_present) == ([], 1, 2)  # nothing to redo
    assert import_registry(api, _registry(renamed_in_mlflow)).ok
    assert [(v.model_name, v.number, v.stage) for v in api.list_versions("retention")] == [
        ("retention", 1, "production"), ("retention", 2, "none")]


def test_a_refused_model_takes_its_versions_with_it(api: RegistryAPI) -> None:
    api.register_model("coco")
    cyrillic = "\u0441\u043e\u0441\u043e"  # one script, so a valid name, but it looks like 'coco'
    report = import_registry(api, _registry(MlflowModel(name=cyrillic, versions=(MlflowVersion(1),))))
    assert isinstance(report.plan.steps[0], RegisterStep)
    assert [(f.model, f.mlflow_number) for f in report.failed] == [(cyrillic, None), (cyrillic, 1)]
    assert "looks like the name of the existing model 'coco'" in report.failed[0].reason
    assert "its model could not be registered" in report.failed[1].reason
    assert [m.name for m in api.list_models().items] == ["coco"]


def test_source_uris() -> None:
    assert source_kind("https://mlflow.example") == "rest"
    assert source_kind("postgresql+psycopg2://u@h/db") == "sql"
    assert redacted("https://ann:secret@mlflow.example:5000/x") == "https://mlflow.example:5000/x"
    assert redacted("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    with pytest.raises(InvalidInputError, match="not an MLflow tracking URI"):
        source_kind("databricks://profile")


def test_a_stage_held_by_a_version_of_modelogs_own_is_not_forced(api: RegistryAPI) -> None:
    api.register_model("m")
    api.create_version("m")
    api.set_stage("m", 1, "production")
    source = _registry(MlflowModel(name="m", versions=(MlflowVersion(1, stage="Production"),)))
    report = import_registry(api, source)
    assert [(f.model, f.mlflow_number) for f in report.failed] == [("m", 1)]
    assert "production of model 'm' is held by version 1" in report.failed[0].reason
    assert [(v.number, v.stage) for v in api.list_versions("m")] == [(1, "production"), (2, "none")]
    again = plan_import(api, source)  # the stage is still wanted: tried again, refused again, nothing forced
    assert [(s.mlflow_number, s.number, s.create, s.stage) for s in again.steps if isinstance(s, VersionStep)] == [
        (1, 2, False, "production")]
