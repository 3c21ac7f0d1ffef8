"""A pipeline process for the kill -9 tests: three steps, the middle one writing a large artifact.

Usage: ``python -m tests.reliability.pipeline_child URL HOME SIZE``. Prints ``started`` once the
run is recorded and its first step runs (a kill after that always finds the run in the log), and
``finished <run id>`` if the run completes before it is killed.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

from modelog import Client, ModelArtifactConfig, ModelConfig, pipeline, step

MODEL = ModelConfig(name="killed", create_new_model_version=True, delete_new_version_on_failure=True)


@step
def make_numbers(size: int) -> Annotated[list, "numbers"]:
    """A small first output."""
    print("started", flush=True)
    return list(range(size // 1000))


@step
def blow_up(numbers: list, size: int) -> Annotated[list, "big", ModelArtifactConfig()]:
    """A large output: its serialisation, hashing and write take a noticeable time."""
    return [n * 7 for n in range(size)] + numbers


@step
def summarise(big: list) -> Annotated[dict, "summary"]:
    """A slow last step."""
    time.sleep(0.2)
    return {"count": len(big), "total": sum(big)}


@pipeline(enable_cache=False, model_config=MODEL)
def killable(size: int) -> None:
    """numbers -> big -> summary."""
    summarise(blow_up(make_numbers(size), size))


if __name__ == "__main__":
    with Client(sys.argv[1], home=sys.argv[2]):
        run = killable(int(sys.argv[3]))
        print(f"finished {run.id}", flush=True)
