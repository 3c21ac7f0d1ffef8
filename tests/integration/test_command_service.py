"""The command service on every backend: atomic decisions, refusals that write nothing, retries."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.errors import ConflictError, NotFoundError
from modelog.registry.service import CommandService


def test_forced_promotion_archives_the_holder_in_the_same_append(registry: Any) -> None:
    run = registry.commands.execute
    run(cmd.RegisterModel(name="demo"))
    run(cmd.CreateVersion(model="demo"))
    run(cmd.CreateVersion(model="demo"))
    run(cmd.SetStage(model="demo", version=1, stage="production"))
    head = registry.store.head()
    with pytest.raises(ConflictError, match="held by version 1"):
        run(cmd.SetStage(model="demo", version=2, stage="production"))
    assert registry.store.head() == head
    result = run(cmd.SetStage(model="demo", version=2, stage="production", force=True))
    assert result.archived == (1,)
    assert [(e.position, e.data["number"], e.data["to_stage"]) for e in result.events] == [
        (head + 1, 1, "archived"), (head + 2, 2, "production")]
    assert len({e.recorded_at for e in result.events}) == 1
    assert len({e.meta["correlation_id"] for e in result.events}) == 1
    assert [v.stage for v in registry.reads.list_versions("demo")] == ["archived", "production"]


def test_a_deleted_models_name_can_be_registered_again_as_a_new_model(registry: Any) -> None:
    run = registry.commands.execute
    first = run(cmd.RegisterModel(name="demo")).model_id
    with pytest.raises(ConflictError, match="already exists"):
        run(cmd.RegisterModel(name="DEMO"))
    run(cmd.CreateVersion(model="demo"))
    run(cmd.DeleteModel(model="demo"))
    with pytest.raises(NotFoundError):
        run(cmd.CreateVersion(model="demo"))
    second = run(cmd.RegisterModel(name="Demo")).model_id
    assert second != first
    assert run(cmd.CreateVersion(model="demo")).number == 1  # a new model counts from 1
    history = registry.reads.history("demo")  # every model that held the name, the earlier one first
    assert [h.summary for h in history if h.model_id == second][0] == "registered model 'Demo'"
    assert [h.summary for h in history][0] == "registered model 'demo'"
    assert registry.store.read_stream(f"model-{first}")[-1].event_type == "ModelDeleted"


def test_failed_pipeline_deletes_the_version_it_created_with_the_run_id(registry: Any) -> None:
    run = registry.commands.execute
    started = run(cmd.StartRun(run_id="r1", pipeline="train",
                               model=cmd.ModelContext(name="auto", create_new_version=True)))
    assert (started.number, started.created_version) == (1, True)
    finished = run(cmd.FinishRun(run_id="r1", error_type="ValueError", error_message="bad data",
                                 delete_created_version=True))
    assert finished.deleted_version == 1
    deleted = registry.store.read_stream(f"model-{started.model_id}")[-1]
    assert (deleted.event_type, deleted.data["reason"], deleted.data["run_id"]) == (
        "ModelVersionDeleted", "pipeline_failure", "r1")
    assert registry.reads.list_versions("auto") == []
    assert registry.reads.get_run("r1").error == "ValueError: bad data"
    assert run(cmd.CreateVersion(model="auto")).number == 2


def test_services_with_stale_caches_still_decide_on_fresh_state(registry: Any) -> None:
    other = CommandService(registry.store, actor="other")
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    assert registry.commands.execute(cmd.CreateVersion(model="demo")).number == 1
    assert other.execute(cmd.CreateVersion(model="demo", name="x")).number == 2
    with pytest.raises(ConflictError, match="named 'x'"):
        registry.commands.execute(cmd.CreateVersion(model="demo", name="X"))
    assert registry.commands.execute(cmd.CreateVersion(model="demo")).number == 3


def test_concurrent_services_never_share_a_version_number(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        service = CommandService(registry.store, actor="worker")
        try:
            for _ in range(6):
                numbers.append(service.execute(cmd.CreateVersion(model="demo")).number)  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 25))
    assert registry.store.verify().ok


def test_step_outputs_cannot_link_into_a_deleted_model(registry: Any) -> None:
    run = registry.commands.execute
    run(cmd.StartRun(run_id="r1", pipeline="train", model=cmd.ModelContext(name="m", create_new_version=True)))
    run(cmd.DeleteModel(model="m"))
    head = registry.store.head()
    output = cmd.OutputSpec(name="model", uri="file:///x", content_hash="h", data_type="t", materializer="m",
                            kind="model")
    with pytest.raises(ConflictError, match="no longer exists"):
        run(cmd.CompleteStep(run_id="r1", step="fit", outputs=(output,)))
    assert registry.store.head() == head
