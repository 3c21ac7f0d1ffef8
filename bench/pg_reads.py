"""Where the time of each read of ``bench.registry_ops queries`` goes on PostgreSQL: CPU at both ends, and plans.

Usage:
  python -m bench.pg_reads cpu URL [CALLS]   # per read and point: CPU per call of this process and of its server
                                             # backends (from /proc), the wall median, and the statements sent
  python -m bench.pg_reads plans URL [generic] [READ]  # each statement of each read (or of READ), EXPLAIN (ANALYZE,
                                             # BUFFERS); ``generic``: the plan for any position, which PostgreSQL
                                             # settles on for a statement psycopg prepared (after 5 runs)

Wall time on a shared machine swings 3-5x with the load; CPU time barely moves. A read on PostgreSQL spends it
in two processes: this one (SQLAlchemy, the driver) and the server backend that plans and executes its
statements, so ``cpu`` adds the backend's utime + stime (``/proc/PID/stat``, read before and after ``CALLS``
calls: the kernel counts CPU in clock ticks, far coarser than one read). The points are those of
``bench.registry_ops``: present, ``first`` (the end of model ``big``'s stream), ``middle`` and ``last``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

from bench.common import emit
from bench.registry_ops import _query_set

#: Tells this bench's connections apart from every other session on the server.
APP_NAME = "modelog_bench_pg_reads"


def _points(registry: Any) -> dict[str, int | None]:
    from modelog.registry import commands as cmd

    reads = registry.reads
    if reads.get_version("demo", 50).stage != "production":
        registry.commands.execute(cmd.SetStage(model="demo", version=50, stage="production"))
    head = registry.store.head()
    big = registry.store.read_stream(f"model-{reads.get_model('big').id}")
    return {"present": None, "first": big[-1].position, "middle": head // 2, "last": head}


def _reads_at(registry: Any, points: dict[str, int | None]) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    head = points["last"]
    for point, position in points.items():
        for label, fn in _query_set(registry.reads, position).items():
            if label != "get_by_stage" or position in (None, head):  # the stage is set at the log's end
                yield label, point, fn


def _open(url: str) -> Any:
    from modelog.application.bootstrap import open_registry

    joiner = "&" if "?" in url else "?"
    return open_registry(f"{url}{joiner}application_name={APP_NAME}", actor="bench")


def _backend_cpu_seconds(admin: Any) -> float:
    """utime + stime of every server backend of this bench (the pool may hold several connections)."""
    pids = [row[0] for row in admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                             (APP_NAME,))]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any]]]:
    """Every statement any psycopg cursor executes inside the block, with its parameters."""
    import psycopg

    seen: list[tuple[str, Any]] = []
    original = psycopg.Cursor.execute

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        seen.append((query if isinstance(query, str) else str(query), params))
        return original(self, query, params, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]


def run_cpu(url: str, calls: int) -> dict[str, Any]:
    """CPU per call (this process + its backends), wall median and statements per read, at each point."""
    import psycopg

    registry = _open(url)
    admin = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    try:
        points = _points(registry)
        out["points"] = points
        for label, point, fn in _reads_at(registry, points):
            for _ in range(3):
                fn()
            with _statements() as seen:
                fn()
            walls = []
            client, server = time.process_time(), _backend_cpu_seconds(admin)
            for _ in range(calls):
                started = time.perf_counter()
                fn()
                walls.append(time.perf_counter() - started)
            client, server = time.process_time() - client, _backend_cpu_seconds(admin) - server
            out[f"{label}@{point}"] = {
                "client_cpu_ms": round(client / calls * 1000, 3), "server_cpu_ms": round(server / calls * 1000, 3),
                "cpu_ms": round((client + server) / calls * 1000, 3), "wall_median_ms": round(median(walls) * 1000, 3),
                "statements": len(seen)}
        out["prepared"] = _prepared(registry)
    finally:
        admin.close()
        registry.close()
    out["load_after"] = os.getloadavg()[0]
    return out


def _prepared(registry: Any) -> list[str]:
    """The statements psycopg prepared on the pooled connection (after 5 runs), and how often each was planned
    generically (for any position) or custom (for the position given): a generic plan can differ from EXPLAIN's."""
    with registry.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements "
                                    "ORDER BY generic_plans DESC").all()
    return [f"generic {g} custom {c}: {' '.join(s.split())[:160]}" for g, c, s in rows]


def _explain(conn: Any, sql: str, params: Any, generic: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: of the plan for its values, or (``generic``) of the plan for
    any values that a prepared statement settles on (PREPARE, then EXECUTE under ``force_generic_plan``)."""
    from psycopg import sql as pgsql

    if not generic:
        return [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)]
    values: list[Any] = []
    names: dict[str, int] = {}

    def numbered(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:  # positional
            values.append(params[len(values)])
            return f"${len(values)}"
        if name not in names:
            values.append(params[name])
            names[name] = len(values)
        return f"${names[name]}"

    text = re.sub(r"%%|%\((\w+)\)s|%s", numbered, sql)
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("PREPARE pg_reads_q AS " + text)
    try:
        arguments = ", ".join(pgsql.Literal(v).as_string(conn) for v in values)
        return [row[0] for row in conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) EXECUTE pg_reads_q" + (f"({arguments})" if values else ""))]
    finally:
        conn.execute("DEALLOCATE pg_reads_q")
        conn.execute("RESET plan_cache_mode")


def run_plans(url: str, generic: bool = False, only: str | None = None) -> None:
    """Print each statement of each read at each point with its plan as executed (EXPLAIN ANALYZE, BUFFERS)."""
    import psycopg

    registry = _open(url)
    explain = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        for label, point, fn in _reads_at(registry, _points(registry)):
            if only is not None and label != only:
                continue
            fn()
            with _statements() as seen:
                fn()
            total = 0.0
            print(f"=== {label} @ {point}: {len(seen)} statements")
            for sql, params in seen:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    print(f"--- {sql.strip()[:60]}")
                    continue
                lines = _explain(explain, sql, params, generic)
                spent = sum(float(line.split(":")[1].split()[0]) for line in lines
                            if line.startswith(("Planning Time", "Execution Time")))
                total += spent
                print(f"--- {spent:.3f} ms: {' '.join(sql.split())[:400]}  {params!r:.200}")
                print("\n".join("    " + line for line in lines))
            explain.rollback()
            print(f"=== {label} @ {point}: server planning + execution {total:.3f} ms")
    finally:
        explain.close()
        registry.close()


if __name__ == "__main__":
    if sys.argv[1] == "cpu":
        emit(run_cpu(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 200))
    else:
        run_plans(sys.argv[2], "generic" in sys.argv[3:], next((a for a in sys.argv[3:] if a != "generic"), None))
