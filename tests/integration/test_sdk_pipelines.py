"""Pipelines and steps against a real registry (SQLite and PostgreSQL): runs, links, failures, caching."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any

import numpy as np
import pytest
from modelog.registry.errors import NotFoundError
from modelog.sdk import (
    ArtifactConfig,
    Client,
    DeploymentArtifactConfig,
    ModelArtifactConfig,
    ModelConfig,
    ModelStages,
    get_step_context,
    pipeline,
    step,
)
from modelog.sdk.errors import ArtifactIntegrityError, StepContextError

NEW = ModelConfig(name="demo", license="Apache", description="d", create_new_model_version=True)


@pytest.fixture
def client(registry: Any) -> Iterator[Client]:
    with Client(registry=registry) as active:
        yield active


class Boom(Exception):
    """A user error raised inside a step."""


@step
def make_data() -> tuple[Annotated[list[int], "train"], Annotated[np.ndarray, "test"]]:
    return [1, 2, 3], np.arange(4)


@step
def fit(train: list[int]) -> Annotated[dict[str, float], "classifier", ModelArtifactConfig()]:
    return {"weight": float(sum(train))}


@step
def deploy(model: dict[str, float]) -> Annotated[str, "endpoint", DeploymentArtifactConfig()]:
    return f"http://serve/{model['weight']}"


@step
def promote() -> None:
    get_step_context().model_version.set_stage(ModelStages.PRODUCTION, force=True)


@pipeline(enable_cache=False, model_config=NEW)
def producer() -> None:
    train, _test = make_data()
    deploy(fit(train))
    promote()


@step
def predict() -> Annotated[list[float], "predictions", ArtifactConfig(name="predictions")]:
    model = get_step_context().model_version.load_artifact("classifier")
    return [model["weight"]]


@pipeline(enable_cache=False, model_config=ModelConfig(name="demo", version=ModelStages.PRODUCTION))
def consumer() -> None:
    predict()


def test_producer_records_model_version_links_and_run(client: Client) -> None:
    run = producer()
    model = client.get_model("demo")
    assert (model.license, model.description, model.latest_version) == ("Apache", "d", 1)
    version = client.get_model_version("demo", 1)
    assert run.model_version == version and version.stage is ModelStages.PRODUCTION
    assert [(lk.name, lk.kind) for lk in version.artifacts] == [("train", "data"), ("test", "data")]
    assert [lk.name for lk in version.model_objects] == ["classifier"]
    assert [lk.name for lk in version.deployments] == ["endpoint"]
    assert [(r.run_id, r.status, r.steps_completed) for r in version.runs] == [(run.id, "completed", 4)]
    assert version.load_artifact("classifier") == {"weight": 6.0}
    assert (version.load_artifact("test") == np.arange(4)).all()
    assert run.steps["deploy"]["endpoint"].value == "http://serve/6.0"


def test_later_steps_receive_loaded_values(client: Client) -> None:
    seen: list[Any] = []
    original = {"a": [1, 2]}

    @step
    def produce() -> dict[str, list[int]]:
        return original

    @step
    def consume(value: dict[str, list[int]]) -> None:
        seen.append(value)

    @pipeline
    def flow() -> None:
        consume(produce())

    run = flow()
    assert seen == [original] and seen[0] is not original
    assert run.steps["produce"]["output"].value == original and run.model_version is None


def test_step_context_exposes_run_step_and_version(client: Client) -> None:
    captured: dict[str, Any] = {}

    @step
    def look() -> None:
        context = get_step_context()
        captured.update(run=context.pipeline_run.id, step=context.step_name, number=context.model_version.number)

    @pipeline(model_config=NEW)
    def flow() -> None:
        look()
        look()

    run = flow()
    assert captured == {"run": run.id, "step": "look_2", "number": 1}
    assert [e.summary for e in client.history("demo", include_runs=True) if "step" in e.summary] == [
        "step 'look' completed", "step 'look_2' completed"]


def test_consumer_links_predictions_versions_to_production_without_new_version(client: Client) -> None:
    producer()
    first, second = consumer(), consumer()
    assert first.model_version.number == second.model_version.number == 1
    versions = client.list_model_versions("demo")
    assert [v.number for v in versions] == [1]
    predictions = [(lk.name, lk.link_version) for lk in versions[0].artifacts if lk.name == "predictions"]
    assert predictions == [("predictions", 1), ("predictions", 2)]
    assert [r.pipeline for r in versions[0].runs] == ["producer", "consumer", "consumer"]
    assert versions[0].load_artifact("predictions", version=1) == [6.0]


def test_consumer_without_production_version_runs_nothing(client: Client) -> None:
    client.register_model("demo")
    called = []

    @step
    def body() -> None:
        called.append(1)

    @pipeline(model_config=ModelConfig(name="demo", version="production"))
    def flow() -> None:
        body()

    with pytest.raises(NotFoundError, match="has no production version"):
        flow()
    assert called == []


def test_failure_deletes_the_new_version_and_reraises_the_same_exception(client: Client) -> None:
    error = Boom("bad data")

    @step
    def explode(train: list[int]) -> None:
        raise error

    @pipeline(model_config=NEW)
    def failing() -> None:
        train, _ = make_data()
        explode(train)

    with pytest.raises(Boom) as raised:
        failing()
    assert raised.value is error
    assert client.list_model_versions("demo") == []
    deleted = [e for e in client.history("demo") if e.event_type == "ModelVersionDeleted"]
    assert len(deleted) == 1 and deleted[0].data["reason"] == "pipeline_failure"
    run = client.get_run(deleted[0].data["run_id"])
    assert run.status == "failed" and run.error == "Boom: bad data"
    failed = [e for e in client.history("demo", include_runs=True) if e.event_type == "PipelineRunFailed"]
    assert failed[0].data["step"] == "explode"


def test_failure_with_flag_false_keeps_version_and_links(client: Client) -> None:
    @pipeline(model_config=ModelConfig(name="demo", create_new_model_version=True,
                                       delete_new_version_on_failure=False))
    def failing() -> None:
        make_data()
        raise KeyError("after the step")

    with pytest.raises(KeyError):
        failing()
    version = client.get_model_version("demo", 1)
    assert [lk.name for lk in version.artifacts] == ["train", "test"]
    assert [r.status for r in version.runs] == ["failed"]
    assert not [e for e in client.history("demo") if e.event_type == "ModelVersionDeleted"]


def test_get_step_context_in_pipeline_body_and_nested_pipelines_are_refused(client: Client) -> None:
    @pipeline
    def outside_step() -> None:
        get_step_context()

    with pytest.raises(StepContextError):
        outside_step()

    @pipeline
    def nesting() -> None:
        outside_step()

    with pytest.raises(StepContextError, match="cannot run inside another pipeline"):
        nesting()


def test_tampered_artifact_is_refused_and_reported(client: Client) -> None:
    producer()
    version = client.get_model_version("demo", "latest")
    link = version.get_artifact("classifier")
    path = client.artifact_store.path_for(client.get_artifact(link.artifact_id).uri)
    path.write_bytes(b'{"weight": 999.0}')
    with pytest.raises(ArtifactIntegrityError, match=f"'classifier' v1 was modified: expected sha256 "
                                                     f"{link.content_hash}"):
        version.load_artifact("classifier")
    report = client.verify_artifacts()
    assert not report.ok and [(p.name, p.status) for p in report.problems] == [("classifier", "corrupt")]
    path.unlink()
    assert [p.status for p in client.verify_artifacts().problems] == ["missing"]


def test_concurrent_pipelines_each_get_their_own_version(client: Client, db_url: str) -> None:
    errors: list[BaseException] = []

    def run_one() -> None:
        try:
            with Client(db_url):
                producer()
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = client.list_model_versions("demo")
    assert [v.number for v in versions] == [1, 2, 3, 4]
    assert all(len(v.runs) == 1 for v in versions)
    assert len({v.runs[0].run_id for v in versions}) == 4
