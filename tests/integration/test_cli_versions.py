"""``modelog model version ...`` through click's CliRunner against a real registry on every backend."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from modelog.registry import commands as cmd

from tests.cli_support import run


@pytest.fixture
def demo(registry: Any) -> Any:
    """Model demo with versions 1 (production, two datasets, a classifier, one run) and 2."""
    execute = registry.commands.execute
    execute(cmd.RegisterModel(name="demo", fields={"license": "Apache"}))
    execute(cmd.CreateVersion(model="demo"))
    for name, kind in (("train_dataset", "data"), ("test_dataset", "data"), ("classifier", "model")):
        execute(cmd.LinkArtifact(model="demo", version=1, pipeline="producer", step="train", name=name, kind=kind,
                                 artifact_id=str(uuid.uuid4()), artifact_name=name, content_hash="0" * 64))
    run_id = str(uuid.uuid4())
    execute(cmd.StartRun(run_id=run_id, pipeline="producer", model=cmd.ModelContext(name="demo", version=1)))
    execute(cmd.FinishRun(run_id=run_id))
    execute(cmd.SetStage(model="demo", version=1, stage="production"))
    execute(cmd.CreateVersion(model="demo", name="candidate", description="next try"))
    return registry


def test_version_list_shows_counts_as_numbers(demo: Any) -> None:
    result = run("model", "version", "list", "demo")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("NAME       NUMBER  DESCRIPTION  STAGE       ALIASES  DATA_ARTIFACTS_COUNT"
                        "  MODEL_ARTIFACTS_COUNT  DEPLOYMENTS_COUNT  PIPELINE_RUNS_COUNT  UPDATED")
    assert lines[1].split()[:7] == ["1", "1", "production", "2", "1", "0", "1"]
    assert lines[2].split()[:10][:4] == ["candidate", "2", "next", "try"]
    assert len(lines) == 3


def test_version_list_json_and_stage_filter(demo: Any) -> None:
    data = json.loads(run("model", "version", "list", "demo", "--stage", "production", "-o", "json").stdout)
    assert [v["number"] for v in data] == [1]
    assert set(data[0]) == {"model_id", "model_name", "number", "name", "description", "tags", "stage", "aliases",
                            "data_count", "model_count", "deployment_count", "run_count", "created_at", "updated_at",
                            "created_by", "created_run_id", "metadata"}


def test_link_listings_by_kind_and_selector(demo: Any) -> None:
    artifacts = run("model", "version", "artifacts", "demo", "production")
    assert artifacts.exit_code == 0
    lines = artifacts.stdout.splitlines()
    assert lines[0] == "PIPELINE  STEP   NAME           LINK_VERSION  ARTIFACT         CREATED"
    assert [line.split()[:5] for line in lines[1:]] == [
        ["producer", "train", "train_dataset", "1", "train_dataset:1"],
        ["producer", "train", "test_dataset", "1", "test_dataset:1"],
    ]
    objects = json.loads(run("model", "version", "model_objects", "demo", "1", "-o", "json").stdout)
    assert [(o["name"], o["kind"]) for o in objects] == [("classifier", "model")]
    empty = run("model", "version", "deployments", "demo", "1")
    assert (empty.exit_code, empty.stdout) == (0, "No deployments linked to version 1 of model 'demo'.\n")
    latest = run("model", "version", "artifacts", "demo")
    assert latest.stdout == "No data artifacts linked to the latest version of model 'demo'.\n"


def test_missing_version_names_the_versions_that_exist(demo: Any) -> None:
    result = run("model", "version", "artifacts", "demo", "7")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: model 'demo' has no version 7; existing versions: 1, 2 ('candidate')\n"


def test_runs_listing(demo: Any) -> None:
    result = run("model", "version", "runs", "demo", "1")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PIPELINE", "RUN_ID", "STATUS", "STEPS", "STARTED", "FINISHED"]
    assert lines[1].split()[0] == "producer" and lines[1].split()[2:4] == ["completed", "0"]
    data = json.loads(run("model", "version", "runs", "demo", "1", "-o", "json").stdout)
    assert set(data[0]) == {"run_id", "pipeline", "status", "started_at", "finished_at", "steps_completed", "error",
                            "linked_at", "model_name", "version_number"}


def test_reads_as_of_an_earlier_position(demo: Any) -> None:
    head = demo.store.head()
    run("model", "version", "update", "demo", "1", "-d", "described later")
    then = json.loads(run("model", "version", "list", "demo", "--at-position", str(head), "-o", "json").stdout)
    now = json.loads(run("model", "version", "list", "demo", "-o", "json").stdout)
    assert (then[0]["description"], now[0]["description"]) == (None, "described later")


def test_promotion_into_occupied_stage_without_force_and_without_terminal_refuses(demo: Any) -> None:
    before = demo.store.head()
    result = run("model", "version", "update", "demo", "2", "-s", "production", "--alias", "best")
    assert result.exit_code == 1
    assert result.stderr == ("Error: production of model 'demo' is held by version 1 ('1'); pass -f/--force to "
                             "archive it and promote version 2\n")
    assert demo.store.head() == before


def test_promotion_asks_at_a_terminal_and_confirming_forces(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelog.cli.common.is_interactive", lambda: True)
    result = run("model", "version", "update", "demo", "candidate", "-s", "production", input="y\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Production of model 'demo' is held by version 1 ('1'). Archive it and promote version 2? [y/N]: y\n"
        "Version 1 archived (displaced from production).\n"
        "Version 2 of model 'demo' moved to stage production.\n"
    )
    stages = {v.number: v.stage for v in demo.reads.list_versions("demo")}
    assert stages == {1: "archived", 2: "production"}


def test_declining_the_promotion_writes_nothing(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelog.cli.common.is_interactive", lambda: True)
    before = demo.store.head()
    result = run("model", "version", "update", "demo", "2", "-s", "production", input="n\n")
    assert result.exit_code == 1
    assert demo.store.head() == before


def test_force_alias_and_rename_are_written_together(demo: Any) -> None:
    run("model", "version", "update", "demo", "1", "--alias", "best")
    before = demo.store.head()
    result = run("model", "version", "update", "demo", "2", "-s", "production", "-f", "--alias", "best",
                 "-n", "v2", "-d", "promoted")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Version 1 archived (displaced from production).\n"
        "Version 2 of model 'demo' moved to stage production.\n"
        "Alias @best moved from version 1 to version 2.\n"
        "Version 2 of model 'demo' updated.\n"
    )
    positions = {e.position for e in demo.store.read_all(from_position=before + 1)}
    commits = {e.meta["correlation_id"] for e in demo.store.read_all(from_position=before + 1)}
    assert len(positions) == 4 and len(commits) == 1
    assert demo.reads.get_version("demo", "@best").name == "v2"


def test_a_failing_part_of_an_update_writes_nothing(demo: Any) -> None:
    before = demo.store.head()
    result = run("model", "version", "update", "demo", "2", "--alias", "best", "-n", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert demo.store.head() == before


def test_update_without_changes_is_a_usage_error(demo: Any) -> None:
    result = run("model", "version", "update", "demo", "1")
    assert result.exit_code == 2
    assert "Error: nothing to update: give -s/--stage" in result.stderr


def test_unknown_stage_is_a_usage_error(demo: Any) -> None:
    result = run("model", "version", "update", "demo", "1", "-s", "prod")
    assert result.exit_code == 2
    assert "Invalid value for '-s' / '--stage'" in result.stderr


def test_remove_alias_and_delete_version(demo: Any) -> None:
    run("model", "version", "update", "demo", "2", "--alias", "next")
    removed = run("model", "version", "update", "demo", "2", "--remove-alias", "@next")
    assert removed.stdout == "Alias @next removed from version 2.\n"
    refused = run("model", "version", "delete", "demo", "candidate")
    assert refused.exit_code == 1
    deleted = run("model", "version", "delete", "demo", "candidate", "-y")
    assert (deleted.exit_code, deleted.stdout) == (0, "Version 2 of model 'demo' deleted.\n")
    assert [v.number for v in demo.reads.list_versions("demo")] == [1]
