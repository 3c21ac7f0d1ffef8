"""Per-step overhead of a pipeline run in a model context, through the SDK.

Usage: python -m bench.pipeline_overhead HOME RUNS
Each run of ``ten_steps`` creates a model version (ModelConfig create_new_model_version) and
calls a trivial step 10 times (each step's output is stored and recorded in the log). The same
pipeline with no steps is timed too; per-step overhead = (ten - none) / 10. Cache is off.
"""

from __future__ import annotations

import sys
import time

from bench.common import emit, median


def main(home: str, runs: int) -> dict[str, float]:
    """Median wall time of the two pipelines, and the per-step overhead derived from them."""
    from modelog import Client, ModelConfig, pipeline, step

    @step
    def add_one(x: int) -> int:
        return x + 1

    config = ModelConfig(name="bench-pipeline", create_new_model_version=True)

    @pipeline(enable_cache=False, model_config=config)
    def ten_steps() -> None:
        x = 0
        for _ in range(10):
            x = add_one(x)

    @pipeline(enable_cache=False, model_config=config)
    def no_steps() -> None:
        return None

    with Client(home=home, actor="bench"):
        no_steps()
        ten_steps()  # warm-up
        ten, none = [], []
        for _ in range(runs):
            started = time.perf_counter()
            ten_steps()
            ten.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            no_steps()
            none.append((time.perf_counter() - started) * 1000)
    return {"ten_steps_ms": median(ten), "no_steps_ms": median(none),
            "per_step_ms": (median(ten) - median(none)) / 10}


if __name__ == "__main__":
    emit(main(sys.argv[1], int(sys.argv[2])))
