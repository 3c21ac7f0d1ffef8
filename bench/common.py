"""Shared helpers: medians, timing, child processes that print one JSON object, scratch databases."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_PREFIX = os.environ.get("BENCH_PG_PREFIX", "modelog_h_bench")
ES_VENV = Path(os.environ.get("BENCH_ES_VENV", REPO / ".venv-bench-es"))
MLFLOW_VENV = Path(os.environ.get("BENCH_MLFLOW_VENV", REPO / ".venv-bench-mlflow"))


def median(values: list[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by one call of ``fn``."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_ms(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    return median([timed(fn) * 1000 for _ in range(repeat)])


def scratch_dir(prefix: str) -> Path:
    """A fresh directory for one run's database (under $BENCH_DIR, default the system temp dir)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_DIR")))


def sqlite_url(directory: Path, name: str = "registry.db") -> str:
    """A SQLite URL for a file in ``directory``."""
    return f"sqlite:///{directory / name}"


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def pg_database(suffix: str) -> Iterator[str]:
    """A fresh PostgreSQL database ``<prefix>_<suffix>`` (SQLAlchemy URL), dropped afterwards."""
    name = f"{PG_PREFIX}_{suffix}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_available() -> bool:
    """True when the PostgreSQL server answers."""
    try:
        _admin("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def run_json(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run a child process that prints one JSON object as its last stdout line; return it."""
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def emit(result: dict[str, Any]) -> None:
    """Print a child's result as one JSON line."""
    print(json.dumps(result), flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
