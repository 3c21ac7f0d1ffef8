"""``modelog run list|show|fail`` through click's CliRunner against a real registry on every backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from modelog.registry import commands as cmd

from tests.cli_support import run

DONE, STUCK = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def _output(name: str, digest: str) -> cmd.OutputSpec:
    return cmd.OutputSpec(name=name, uri=f"file:///{name}", content_hash=digest, data_type="pickle",
                          materializer="pickle", kind=None)


@pytest.fixture
def runs(registry: Any) -> Any:
    """Run DONE of pipeline training (two steps, completed, version 1 of demo) and run STUCK of scoring (running)."""
    execute = registry.commands.execute
    execute(cmd.RegisterModel(name="demo"))
    execute(cmd.StartRun(run_id=DONE, pipeline="training", model=cmd.ModelContext(name="demo",
                                                                                  create_new_version=True)))
    execute(cmd.CompleteStep(run_id=DONE, step="load", outputs=(_output("dataset", "a" * 64),)))
    execute(cmd.CompleteStep(run_id=DONE, step="fit", outputs=(_output("classifier", "b" * 64),), cached=True,
                             cache_key="k1"))
    execute(cmd.FinishRun(run_id=DONE))
    execute(cmd.StartRun(run_id=STUCK, pipeline="scoring"))
    return registry


def test_run_list_table_filters_and_json(runs: Any) -> None:
    table = run("run", "list")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["RUN_ID", "PIPELINE", "STATUS", "MODEL", "VERSION", "STEPS", "STARTED", "FINISHED"]
    assert lines[1].split()[:3] == [STUCK, "scoring", "running"]
    assert lines[2].split()[:6] == [DONE, "training", "completed", "demo", "1", "2"]
    only = json.loads(run("run", "list", "--status", "running", "-o", "json").stdout)
    assert [r["run_id"] for r in only] == [STUCK]
    assert set(only[0]) == {"run_id", "pipeline", "status", "started_at", "finished_at", "steps_completed",
                            "error", "linked_at", "model_name", "version_number"}
    by_pipeline = json.loads(run("run", "list", "--pipeline", "training", "-o", "json").stdout)
    assert [r["run_id"] for r in by_pipeline] == [DONE]
    assert run("run", "list", "--pipeline", "nope").stdout == "No runs found.\n"
    assert [r["run_id"] for r in json.loads(run("run", "list", "--limit", "1", "-o", "json").stdout)] == [STUCK]


def test_run_list_in_the_past(runs: Any) -> None:
    before_stuck = runs.store.head() - 1
    past = json.loads(run("run", "list", "--at-position", str(before_stuck), "-o", "json").stdout)
    assert [(r["run_id"], r["status"]) for r in past] == [(DONE, "completed")]
    started = json.loads(run("run", "list", "--at-position", "5", "-o", "json").stdout)  # StartRun: 3-5
    assert [(r["run_id"], r["status"], r["steps_completed"]) for r in started] == [(DONE, "running", 0)]


def test_run_show_steps_outputs_and_json(runs: Any) -> None:
    shown = run("run", "show", DONE)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[:4] == [f"Run:      {DONE}", "Pipeline: training", "Status:   completed", "Model:    demo version 1"]
    assert lines[6] == "Error:    -"
    table = lines[8:]
    assert table[0].split() == ["STEP", "CACHED", "OUTPUT", "ARTIFACT", "HASH", "COMPLETED"]
    assert table[1].split()[:5] == ["load", "no", "dataset", "dataset:1", "a" * 64]
    assert table[2].split()[:4] == ["fit", "yes", "classifier", "classifier:1"]
    data = json.loads(run("run", "show", DONE, "-o", "json").stdout)
    assert data["status"] == "completed" and [s["step"] for s in data["steps"]] == ["load", "fit"]
    assert data["steps"][1]["cached"] is True and data["steps"][1]["cache_key"] == "k1"
    assert data["steps"][0]["outputs"] == [{"name": "dataset", "artifact_id": data["steps"][0]["outputs"][0][
        "artifact_id"], "artifact_name": "dataset", "artifact_version": 1, "content_hash": "a" * 64}]
    load_done = max(runs.store.read_all(from_position=6, limit=1).__next__().meta["span"])  # the first step's end
    early = json.loads(run("run", "show", DONE, "--at-position", str(load_done), "-o", "json").stdout)
    assert (early["status"], [s["step"] for s in early["steps"]]) == ("running", ["load"])


def test_run_show_unknown_run(runs: Any) -> None:
    missing = run("run", "show", "nope")
    assert (missing.exit_code, missing.stderr) == (1, "Error: run 'nope' does not exist\n")


def test_run_fail_closes_an_abandoned_run(runs: Any) -> None:
    head = runs.store.head()
    refused = run("run", "fail", STUCK)  # no terminal, no -y: refuses instead of hanging
    assert refused.exit_code == 1 and "pass -y/--yes" in refused.stderr
    assert runs.store.head() == head
    closed = run("run", "fail", STUCK, "--reason", "node lost", "-y")
    assert (closed.exit_code, closed.stdout) == (0, f"Run {STUCK} marked failed (Abandoned: node lost).\n")
    data = json.loads(run("run", "show", STUCK, "-o", "json").stdout)
    assert (data["status"], data["error"]) == ("failed", "Abandoned: node lost")
    event = runs.store.read_all(from_position=head + 1).__next__()
    assert (event.event_type, event.data["error_type"]) == ("PipelineRunFailed", "Abandoned")
    again = run("run", "fail", STUCK, "-y")
    assert (again.exit_code, again.stderr) == (1, f"Error: run {STUCK} is failed, not running\n")
    finished = run("run", "fail", DONE, "-y")
    assert (finished.exit_code, finished.stderr) == (1, f"Error: run {DONE} is completed, not running\n")
    assert runs.store.head() == head + 1


def test_run_fail_keeps_the_created_version(runs: Any) -> None:
    execute = runs.commands.execute
    execute(cmd.StartRun(run_id="r3", pipeline="training", model=cmd.ModelContext(name="demo",
                                                                                  create_new_version=True)))
    assert run("run", "fail", "r3", "-y").exit_code == 0
    assert [v.number for v in runs.reads.list_versions("demo")] == [1, 2]
    assert runs.reads.get_run("r3").error == "Abandoned: closed by an operator (the process running it is gone)"
    missing = run("run", "fail", "ghost", "-y")
    assert (missing.exit_code, missing.stderr) == (1, "Error: run 'ghost' does not exist\n")
