"""modelog doing MLflow's registry workload in-process, and query latency on a large registry.

Usage:
  python -m bench.registry_ops versions URL N   # create N versions of model m, list them, get by number/alias
  python -m bench.registry_ops queries URL      # latency of reads on a registry imported from generate_log
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from statistics import median
from typing import Any

from bench.common import emit, median_ms


def _median_cpu_ms(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    """Median CPU time of this process (``time.process_time``) per call, in ms: steadier than wall time on a
    shared machine, and complete for SQLite, which runs in this process (not for PostgreSQL's server)."""
    for _ in range(warmup):
        fn()
    found = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        found.append((time.process_time() - started) * 1000)
    return median(found)


#: ``BENCH_CLOCK=cpu`` times the queries in CPU time instead of wall time.
_median_ms = _median_cpu_ms if os.environ.get("BENCH_CLOCK") == "cpu" else median_ms


def run_versions(url: str, n: int) -> dict[str, float]:
    """Create ``n`` versions (one command each) and time the reads MLflow's peer run times."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, actor="bench")
    execute, reads = registry.commands.execute, registry.reads
    execute(cmd.RegisterModel(name="m"))
    started = time.perf_counter()
    for i in range(n):
        execute(cmd.CreateVersion(model="m", tags=(f"i={i}",)))
    out = {"versions_per_s": n / (time.perf_counter() - started)}
    assert len(reads.list_versions("m")) == n
    out["list_all_ms"] = median_ms(lambda: reads.list_versions("m"), 5)
    out["get_version_ms"] = median_ms(lambda: reads.get_version("m", n // 2), 20)
    execute(cmd.SetAlias(model="m", version=n // 2, alias="champion"))
    out["get_by_alias_ms"] = median_ms(lambda: reads.get_version("m", "@champion"), 20)
    registry.close()
    return out


def _query_set(reads: Any, middle: int | None) -> dict[str, Any]:
    at = {} if middle is None else {"at_position": middle}
    return {
        "model_list_first_page": lambda: reads.list_models(size=50, **at),
        "version_list_100": lambda: reads.list_versions("demo", **at),
        "version_list_999": lambda: reads.list_versions("big", **at),
        "get_by_number": lambda: reads.get_version("demo", 50, **at),
        "get_by_stage": lambda: reads.get_version("demo", "production", **at),
        "artifacts_of_version": lambda: reads.list_links("demo", 50, **at),
        "get_model_1000_event_stream": lambda: reads.get_model("big", **at),
    }


def run_queries(url: str) -> dict[str, float]:
    """Median latency (ms) of each read, live and as of three points of the log.

    The points: ``first``, the end of model ``big``'s stream (the earliest position at which every read of
    the set has its answer), ``middle`` (half the log; the keys without a suffix, as before) and ``last``
    (the log's end: the same state as live, read through the history twins).
    """
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, actor="bench")
    reads = registry.reads
    if reads.get_version("demo", 50).stage != "production":
        registry.commands.execute(cmd.SetStage(model="demo", version=50, stage="production"))
    head = registry.store.head()
    big = registry.store.read_stream(f"model-{reads.get_model('big').id}")
    points = {"_first": big[-1].position, "": head // 2, "_last": head}
    if os.environ.get("BENCH_AS_OF") == "0":  # live reads only (e.g. to compare with a tree that replays)
        points = {}
    out: dict[str, float] = {"head": head, "as_of_position": head // 2, "as_of_first_position": big[-1].position}
    for label, fn in _query_set(reads, None).items():
        out[label + "_ms"] = _median_ms(fn, 20)
    for suffix, point in points.items():
        for label, fn in _query_set(reads, point).items():
            if label != "get_by_stage" or point == head:  # the stage is set at the end
                out[f"{label}_as_of{suffix}_ms"] = _median_ms(fn, 20, warmup=1)
    registry.close()
    return out


if __name__ == "__main__":
    if sys.argv[1] == "versions":
        emit(run_versions(sys.argv[2], int(sys.argv[3])))
    else:
        emit(run_queries(sys.argv[2]))
