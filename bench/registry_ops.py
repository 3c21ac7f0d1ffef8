"""modelog doing MLflow's registry workload in-process, and query latency on a large registry.

Usage:
  python -m bench.registry_ops versions URL N   # create N versions of model m, list them, get by number/alias
  python -m bench.registry_ops queries URL      # latency of reads on a registry imported from generate_log
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import emit, median_ms


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
    """Median latency (ms) of each read, live and at the middle of the log (as of that point)."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry import commands as cmd

    registry = open_registry(url, actor="bench")
    reads = registry.reads
    if reads.get_version("demo", 50).stage != "production":
        registry.commands.execute(cmd.SetStage(model="demo", version=50, stage="production"))
    middle = registry.store.head() // 2
    out: dict[str, float] = {"head": registry.store.head(), "as_of_position": middle}
    for label, fn in _query_set(reads, None).items():
        out[label + "_ms"] = median_ms(fn, 20)
    for label, fn in _query_set(reads, middle).items():
        if label != "get_by_stage":  # the stage is set after the midpoint, so as of then there is none
            out[label + "_as_of_ms"] = median_ms(fn, 5 if label == "model_list_first_page" else 20, warmup=1)
    registry.close()
    return out


if __name__ == "__main__":
    if sys.argv[1] == "versions":
        emit(run_versions(sys.argv[2], int(sys.argv[3])))
    else:
        emit(run_queries(sys.argv[2]))
