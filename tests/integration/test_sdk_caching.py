"""Step caching: same source, parameters and input artifacts reuse outputs; enable_cache=False never does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from modelog import Client, ModelConfig, pipeline, step

NEW = ModelConfig(name="cached", create_new_model_version=True)
calls: list[str] = []


@pytest.fixture
def client(registry: Any) -> Iterator[Client]:
    calls.clear()
    with Client(registry=registry) as active:
        yield active


@step
def source(n: int) -> Annotated[list[int], "numbers"]:
    calls.append("source")
    return list(range(n))


@step
def total(numbers: list[int]) -> Annotated[int, "total"]:
    calls.append("total")
    return sum(numbers)


def _flow(enable_cache: bool) -> Any:
    @pipeline(name="summing", enable_cache=enable_cache, model_config=NEW)
    def summing(n: int) -> None:
        total(source(n))

    return summing


def _cached_steps(client: Client) -> list[str]:
    return [e.data["step"] for e in client.history("cached", include_runs=True)
            if e.event_type == "PipelineStepCompleted" and e.data["cached"]]


def test_cached_steps_reuse_outputs_and_are_still_linked(client: Client) -> None:
    flow = _flow(enable_cache=True)
    first = flow(4)
    second = flow(4)
    assert calls == ["source", "total"]
    assert _cached_steps(client) == ["source", "total"]
    assert second.steps["total"]["total"].value == 6 and second.steps["total"]["total"].cached
    v1, v2 = client.get_model_version("cached", 1), client.get_model_version("cached", 2)
    assert [lk.artifact_id for lk in v2.artifacts] == [lk.artifact_id for lk in v1.artifacts]
    assert v2.load_artifact("total") == 6 and first.model_version.number == 1


def test_changed_parameter_misses_the_cache_but_unchanged_downstream_input_hits(client: Client) -> None:
    flow = _flow(enable_cache=True)
    flow(4)
    flow(5)
    assert calls == ["source", "total", "source", "total"]
    assert _cached_steps(client) == []


def test_enable_cache_false_never_caches(client: Client) -> None:
    flow = _flow(enable_cache=False)
    flow(3)
    flow(3)
    assert calls == ["source", "total", "source", "total"]
    assert _cached_steps(client) == []


def test_step_level_setting_overrides_the_pipeline(client: Client) -> None:
    @step(enable_cache=False)
    def never(n: int) -> int:
        calls.append("never")
        return n

    @pipeline(enable_cache=True)
    def flow() -> None:
        never(1)

    flow()
    flow()
    assert calls == ["never", "never"]


def test_a_tampered_cached_output_makes_the_step_run_again(client: Client) -> None:
    flow = _flow(enable_cache=True)
    run = flow(4)
    output = run.steps["total"]["total"]
    client.artifact_store.path_for(output.uri).write_bytes(b"42")
    again = flow(4)
    assert calls == ["source", "total", "total"]
    assert again.steps["total"]["total"].value == 6
