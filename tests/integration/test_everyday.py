"""Everyday use through the CLI and the SDK, on every backend: describe views, version metadata and tags,
compare, listings by metric, forgiving lookups, ``-o json`` everywhere, ``-y`` and repeated options."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from modelog.registry.errors import NotFoundError
from modelog.sdk import Client, ModelConfig, ModelStages, get_step_context, pipeline, step

from tests.cli_support import run


@pytest.fixture
def client(registry: Any) -> Iterator[Client]:
    with Client(registry=registry) as active:
        yield active


@step
def evaluate() -> None:
    get_step_context().model_version.log_metadata({"accuracy": 0.93, "params": {"depth": 3}})


@step
def promote() -> None:
    get_step_context().model_version.set_stage(ModelStages.PRODUCTION, force=True)


@pipeline(enable_cache=False, model_config=ModelConfig(name="churn", create_new_model_version=True))
def producer() -> None:
    evaluate()
    promote()


@step
def read_accuracy() -> None:
    """Nothing: the consumer only has to start in its model version."""


@pipeline(enable_cache=False, model_config=ModelConfig(name="chrun", version=ModelStages.PRODUCTION))
def mistyped_consumer() -> None:
    read_accuracy()


# --- SDK ---------------------------------------------------------------------------------


def test_a_step_logs_metadata_on_its_model_version(client: Client) -> None:
    producer()
    version = client.get_model_version("churn", "production")
    assert version.metadata == {"accuracy": 0.93, "params": {"depth": 3}}
    assert version.metrics == {"accuracy": 0.93}
    client.log_metadata("churn", "production", {"accuracy": 0.95})
    assert [m.value for m in version.metadata_history if m.key == "accuracy"] == [0.93, 0.95]
    version.add_tags("reviewed", "fast")
    version.remove_tags("fast")
    assert version.tags == ("reviewed",)
    described = client.describe_model("churn")
    assert described.by_stage() == {"production": [1]}
    ranked = client.search_model_versions("churn", sort_by="metric:accuracy", filters=["metric:accuracy>0.94"])
    assert [(r.version.number, r.metadata["accuracy"]) for r in ranked] == [(1, 0.95)]


def test_a_consumer_of_a_missing_model_says_it_does_not_exist_and_suggests(client: Client) -> None:
    producer()
    with pytest.raises(NotFoundError, match="model 'chrun' does not exist; did you mean 'churn'"):
        mistyped_consumer()
    with pytest.raises(NotFoundError, match="did you mean 'churn'"):
        client.get_model("chrun")
    assert [m.name for m in client.list_models().items] == ["churn"]


# --- CLI ---------------------------------------------------------------------------------


@pytest.fixture
def churn(client: Client) -> Client:
    """Model churn: version 1 from the producer (production, accuracy 0.93), version 2 created by hand."""
    producer()
    client.create_model_version("churn")
    return client


def test_version_show_displays_metadata_runs_and_stage_history(churn: Client) -> None:
    shown = run("model", "version", "show", "churn", "production")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert "Stage:        production" in lines
    assert [line.split()[:3] for line in lines if line.strip().startswith("accuracy")] == [["accuracy", "0.93", "1"]]
    assert any(line.strip().startswith("params") and '{"depth": 3}' in line for line in lines)
    assert any("none -> production" in line for line in lines)
    data = json.loads(run("model", "version", "show", "churn", "1", "-o", "json").stdout)
    assert set(data) == {"version", "metadata", "metrics", "metadata_history", "links", "runs", "stage_history"}
    assert data["metrics"] == {"accuracy": 0.93} and len(data["runs"]) == 1


def test_model_show_lists_versions_by_stage_and_the_last_change(churn: Client) -> None:
    shown = run("model", "show", "churn")
    assert shown.exit_code == 0, shown.output
    assert "Production:   1" in shown.stdout and "Versions:     2 (latest 2)" in shown.stdout
    assert "Last change:" in shown.stdout and "created version 2" in shown.stdout
    data = json.loads(run("model", "show", "churn", "-o", "json").stdout)
    assert data["stages"] == {"none": [2], "production": [1]}


def test_version_update_tags_and_metadata_then_compare_and_rank(churn: Client) -> None:
    done = run("model", "version", "update", "churn", "2", "--tag", "candidate", "-m", "accuracy=0.97",
               "-m", "framework=sklearn", "-m", 'params={"depth": 5}')
    assert done.exit_code == 0, done.output
    assert done.stdout == "Version 2 of model 'churn' updated.\nMetadata logged on version 2.\n"
    version = churn.get_model_version("churn", 2)
    assert version.tags == ("candidate",)
    assert version.metadata == {"accuracy": 0.97, "framework": "sklearn", "params": {"depth": 5}}
    assert run("model", "version", "update", "churn", "2", "--remove-tag", "candidate").exit_code == 0
    assert churn.get_model_version("churn", 2).tags == ()

    compared = run("model", "version", "compare", "churn", "1", "2")
    assert compared.exit_code == 0, compared.output
    accuracy = [line.split() for line in compared.stdout.splitlines() if line.strip().startswith("accuracy")]
    assert accuracy == [["accuracy", "0.93", "0.97"]]
    ranked = run("model", "version", "list", "churn", "--sort-by", "metric:accuracy", "--filter",
                 "metric:accuracy>0.95")
    assert ranked.exit_code == 0, ranked.output
    lines = ranked.stdout.splitlines()
    assert lines[0].endswith("ACCURACY") and [line.split()[1] for line in lines[1:]] == ["2"]
    everything = run("model", "version", "list", "churn", "--sort-by", "metric:accuracy", "-o", "json")
    assert [v["number"] for v in json.loads(everything.stdout)] == [2, 1]


def test_bad_input_is_one_line_and_writes_nothing(churn: Client, registry: Any) -> None:
    head = registry.store.head()
    malformed = run("model", "version", "update", "churn", "2", "-m", "no-equals-sign")
    assert malformed.exit_code == 2 and "is not KEY=VALUE" in malformed.stderr
    repeated = run("model", "version", "update", "churn", "2", "-s", "staging", "-s", "production")
    assert repeated.exit_code == 2 and "given more than once" in repeated.stderr
    twice = run("model", "list", "--size", "5", "--size", "6")
    assert twice.exit_code == 2 and "--size was given more than once" in twice.stderr
    mistyped = run("model", "version", "show", "chrun", "1")
    assert (mistyped.exit_code, mistyped.stderr) == (1, "Error: model 'chrun' does not exist; did you mean "
                                                        "'churn'?\n")
    one = run("model", "version", "compare", "churn", "1")
    assert one.exit_code == 2
    assert registry.store.head() == head


def test_version_update_yes_archives_the_holder_without_asking(churn: Client) -> None:
    refused = run("model", "version", "update", "churn", "2", "-s", "production")
    assert refused.exit_code == 1 and "pass -f/--force" in refused.stderr
    done = run("model", "version", "update", "churn", "2", "-s", "production", "-y")
    assert done.exit_code == 0, done.output
    assert "Version 1 archived" in done.stdout
    assert churn.get_model_version("churn", "production").number == 2


def test_run_show_accepts_the_short_id_the_tables_print(churn: Client) -> None:
    (only,) = churn.list_runs()
    shown = run("run", "show", only.run_id[:8], "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["run_id"] == only.run_id


def test_verifications_and_integration_list_print_json(churn: Client) -> None:
    log = run("log", "verify", "-o", "json")
    assert log.exit_code == 0, log.output
    found = json.loads(log.stdout)
    assert found["ok"] is True and found["checked"] > 0 and found["summary"].startswith("Log intact")
    views = json.loads(run("projections", "verify", "-o", "json").stdout)
    assert views == {"checked_position": found["checked"], "differences": [], "ok": True}
    artifacts = json.loads(run("artifacts", "verify", "-o", "json").stdout)
    assert artifacts["ok"] is True
    rebuilt = json.loads(run("projections", "rebuild", "-o", "json").stdout)
    assert rebuilt["events"] == found["checked"]
    integrations = json.loads(run("integration", "list", "-o", "json").stdout)
    assert {"name", "installed", "requirements", "summary"} == set(integrations[0])
    assert any(i["name"] == "sklearn" for i in integrations)


def test_hostile_metadata_text_is_escaped_on_the_terminal(churn: Client) -> None:
    churn.log_metadata("churn", 1, {"note": "\x1b[31mred\x1b[0m\nforged line"})
    shown = run("model", "version", "show", "churn", "1")
    assert "\x1b" not in shown.stdout and "\\x1b[31mred" in shown.stdout and "forged line" in shown.stdout
    assert not any(line.startswith("forged line") for line in shown.stdout.splitlines())
    compared = run("model", "version", "compare", "churn", "1", "2")
    assert "\x1b" not in compared.stdout


def test_model_show_lists_the_latest_twenty_versions(churn: Client) -> None:
    for _ in range(22):
        churn.create_model_version("churn")
    shown = run("model", "show", "churn").stdout
    assert "... and 4 earlier version(s): modelog model version list churn" in shown
    assert "No stage:" in shown
