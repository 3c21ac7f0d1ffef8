"""Per-step overhead of a pipeline run in a model context, through the SDK.

Usage: python -m bench.pipeline_overhead HOME RUNS
Each run of ``ten_steps`` creates a model version (ModelConfig create_new_model_version) and
calls a trivial step 10 times (each step's output is stored and recorded in the log). The same
pipeline with no steps is timed too; per-step overhead = (ten - none) / 10. Cache is off.
Besides wall time, the CPU time of this process (``time.process_time``) per step, and with
``BENCH_SERVER_PID`` set (a remote run), the CPU time of that server's process group per step:
unlike wall time, both hardly move with the machine's load.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench.common import emit, median
from bench.servers import group_cpu_seconds

SERVER_PID_ENV = "BENCH_SERVER_PID"


def _timed(run: Callable[[], object], server: int | None) -> tuple[float, float, float]:
    """Wall ms, this process's CPU ms and the server group's CPU ms (0 without one) of one call."""
    server_before = group_cpu_seconds(server) if server else 0.0
    cpu, started = time.process_time(), time.perf_counter()
    run()
    wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    return wall, cpu, ((group_cpu_seconds(server) - server_before) * 1000 if server else 0.0)


def main(home: str, runs: int) -> dict[str, float]:
    """Median wall and CPU time of the two pipelines, and the per-step overheads derived from them."""
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

    server = int(os.environ[SERVER_PID_ENV]) if os.environ.get(SERVER_PID_ENV) else None
    with Client(home=home, actor="bench"):
        no_steps()
        ten_steps()  # warm-up
        ten, none = [], []
        for _ in range(runs):
            ten.append(_timed(ten_steps, server))
            none.append(_timed(no_steps, server))
    found = {"ten_steps_ms": median([t[0] for t in ten]), "no_steps_ms": median([n[0] for n in none])}
    found["per_step_ms"] = (found["ten_steps_ms"] - found["no_steps_ms"]) / 10
    found["per_step_cpu_ms"] = (median([t[1] for t in ten]) - median([n[1] for n in none])) / 10
    if server:  # /proc counts in clock ticks (10 ms): totals over all runs, not medians of single ones
        found["per_step_server_cpu_ms"] = (sum(t[2] for t in ten) - sum(n[2] for n in none)) / (10 * runs)
    return found


if __name__ == "__main__":
    emit(main(sys.argv[1], int(sys.argv[2])))
