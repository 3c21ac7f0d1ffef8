"""``python -m bench``: run every benchmark, print a table, write JSON to bench/results/.

Every figure carries the exact command that produced it (child processes are run from the
repository root). Peers run in their own virtualenvs when present, else the figure says how
to install them. Sections: throughput, import, queries, cli, pipeline, mlflow, server, mlflow-api, ui.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.common import (
    ES_VENV,
    MLFLOW_VENV,
    PY,
    REPO,
    median,
    pg_available,
    pg_database,
    run_json,
    scratch_dir,
    sqlite_url,
)
from bench.generate_log import expected_events

RESULTS = REPO / "bench" / "results"
ES_INSTALL = f"python3 -m venv {ES_VENV} && {ES_VENV}/bin/pip install 'eventsourcing>=9,<10' 'psycopg[binary]' " \
             "psycopg-pool sqlalchemy"
MLFLOW_INSTALL = f"python3 -m venv {MLFLOW_VENV} && {MLFLOW_VENV}/bin/pip install mlflow"


@dataclass
class Figure:
    """One reported number: what, how much, in which unit, from which command, with its runs."""

    section: str
    label: str
    value: float | str
    unit: str
    command: str
    runs: list[float] | None = None
    note: str = ""


class Bench:
    """Collects figures while the sections run."""

    def __init__(self, runs: int, scratch: Path) -> None:
        self.runs, self.scratch = runs, scratch
        self.figures: list[Figure] = []

    def add(self, section: str, label: str, value: float | str, unit: str, command: str,
            runs: list[float] | None = None, note: str = "") -> None:
        """Record a figure and echo it."""
        figure = Figure(section, label, value, unit, command, runs, note)
        self.figures.append(figure)
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        print(f"  {label:<58} {shown:>12} {unit}", flush=True)

    def child(self, argv: list[str], env: dict[str, str] | None = None,
              shown_env: str = "") -> tuple[dict[str, Any], str]:
        """Run a child process (``env`` added to this one's), returning its JSON and the command line that ran it
        (prefixed with ``shown_env``, how the environment is described)."""
        return run_json(argv, env=env), (shown_env + " " if shown_env else "") + shlex.join(_relative(argv))

    def repeated(self, make_argv: Callable[[int], list[str]]) -> tuple[list[dict[str, Any]], str]:
        """Run a child ``self.runs`` times (``make_argv(i)`` gives run i's argv); return results and command."""
        results, command = [], ""
        for i in range(self.runs):
            result, command = self.child(make_argv(i))
            results.append(result)
        return results, command

    def add_median(self, section: str, label: str, results: list[dict[str, Any]], key: str, unit: str,
                   command: str, note: str = "") -> float:
        """Record the median of ``key`` over the results; return it."""
        values = [float(r[key]) for r in results]
        value = median(values)
        self.add(section, label, value, unit, command, values, note)
        return value

    def ratio(self, section: str, label: str, numerator: float, denominator: float, target: str) -> None:
        """Record a ratio measured in this run, with the target it is judged against."""
        self.add(section, label, numerator / denominator if denominator else float("nan"), "x",
                 "ratio of the medians above", note=f"target {target}")


def _relative(argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        if arg == PY:
            out.append(".venv/bin/python" if Path(PY).parent.parent == REPO / ".venv" else PY)
        elif arg.startswith(str(REPO) + "/"):
            out.append(arg[len(str(REPO)) + 1:])
        else:
            out.append(arg)
    return out


# --- sections --------------------------------------------------------------------------


def throughput(bench: Bench, n: int, postgres: bool) -> None:
    """Durable command path vs plain SQL, the raw floor and eventsourcing, SQLite and PostgreSQL."""
    targets = [("sqlite", n)] + ([("postgres", max(200, n // 2))] if postgres else [])
    for backend, count in targets:
        section = f"throughput/{backend}"
        print(f"[{section}] {count} commands per run", flush=True)
        found: dict[str, float] = {}
        modes = ("command", "plain", "floor")
        # Interleaved (command, plain, floor, then again), so a slow spell of the disk hits all three alike.
        rounds = [{m: bench.child(_throughput_argv(bench, backend, m, count, i)) for m in modes}
                  for i in range(bench.runs)]
        for mode in modes:
            results, command = [r[mode][0] for r in rounds], rounds[0][mode][1]
            for key in results[0]:
                found[f"{mode}.{key}"] = bench.add_median(section, f"{mode}: {key}", results, key, "/s", command)
        found.update(_eventsourcing(bench, section, backend, count))
        _throughput_ratios(bench, section, found)
        if backend == "postgres":
            _writers(bench, section, count)


def _throughput_argv(bench: Bench, backend: str, mode: str, count: int, i: int) -> list[str]:
    return [PY, "-m", "bench.throughput", mode, _fresh_url(bench, backend, f"tp_{mode}_{i}"), str(count)]


_PG_URLS: list[Any] = []


def _fresh_url(bench: Bench, backend: str, tag: str) -> str:
    if backend == "sqlite":
        return sqlite_url(scratch_dir(f"{tag}_"))
    manager = pg_database("run")
    for old in _PG_URLS:
        old.__exit__(None, None, None)
    _PG_URLS[:] = [manager]
    return manager.__enter__()


def _eventsourcing(bench: Bench, section: str, backend: str, count: int) -> dict[str, float]:
    python = ES_VENV / "bin" / "python"
    if not python.exists():
        bench.add(section, "eventsourcing", "not installed", "", f"run: {ES_INSTALL}")
        return {}
    def argv(i: int) -> list[str]:
        if backend == "sqlite":
            return [str(python), "bench/peers/es_append.py", "sqlite", str(scratch_dir("es_") / "es.db"), str(count)]
        return [str(python), "bench/peers/es_append.py", "postgres", _fresh_url(bench, backend, "es").rsplit("/", 1)[1],
                str(count)]
    results, command = bench.repeated(argv)
    return {f"es.{key}": bench.add_median(section, f"eventsourcing {results[0]['eventsourcing']}: {key}", results,
                                          key, "/s", command)
            for key in ("events_per_s_1_per_txn", "events_per_s_100_per_txn")}


def _throughput_ratios(bench: Bench, section: str, f: dict[str, float]) -> None:
    bench.ratio(section, "command versions/s / plain SQL same writes", f["command.versions_per_s"],
                f["plain.versions_per_s"], ">= 0.8")
    bench.ratio(section, "command links/s / plain SQL same writes", f["command.links_per_s"],
                f["plain.links_per_s"], ">= 0.8")
    bench.ratio(section, "command versions/s / raw one-row floor", f["command.versions_per_s"],
                f["floor.rows_per_s_1_per_txn"], ">= 0.6")
    if "es.events_per_s_1_per_txn" in f:
        bench.ratio(section, "command versions/s / eventsourcing 1/txn", f["command.versions_per_s"],
                    f["es.events_per_s_1_per_txn"], "(peer)")


def _writers(bench: Bench, section: str, count: int) -> None:
    for k in (1, 4):
        per = max(100, count // k)
        results, command = bench.repeated(
            lambda i, k=k, per=per: [PY, "-m", "bench.throughput", "writers", _fresh_url(bench, "postgres", "w"),
                                     str(k), str(per)])
        bench.add_median(section, f"{k} writer(s): aggregate commands/s", results, "commands_per_s", "/s", command,
                         note="target >= 400/s for one writer; grows from 1 to 4")


def import_rebuild(bench: Bench, models: int, postgres: bool) -> str:
    """Import and rebuild on the generated log and a 10x smaller one; return the large registry's URL."""
    large_url = ""
    for scale in (models // 10, models):
        log = _generated_log(bench, scale)
        section = f"import/{expected_events(scale, 10, 10):,} events"
        print(f"[{section}]", flush=True)
        large_url = _import_rebuild_sqlite(bench, section, log)
        if postgres and scale == models // 10:
            _import_rebuild_pg(bench, section, log)
    return large_url


def _generated_log(bench: Bench, models: int) -> Path:
    path = bench.scratch / f"log_{models}.jsonl"
    if not path.exists():
        result, command = bench.child([PY, "-m", "bench.generate_log", str(path), "--models", str(models)])
        print(f"  generated {result['events']:,} events: {command}", flush=True)
    return path


def _import_rebuild_sqlite(bench: Bench, section: str, log: Path) -> str:
    urls: list[str] = []

    def import_argv(i: int) -> list[str]:
        urls.append(sqlite_url(scratch_dir("import_")))
        return [PY, "-m", "bench.import_rebuild", "import", str(log), urls[-1]]

    results, command = bench.repeated(import_argv)
    _report_import(bench, f"{section}/sqlite", "import", results, command)
    results, command = bench.repeated(lambda i: [PY, "-m", "bench.import_rebuild", "rebuild", urls[-1]])
    _report_import(bench, f"{section}/sqlite", "projections rebuild", results, command)
    return urls[-1]


def _import_rebuild_pg(bench: Bench, section: str, log: Path) -> None:
    with pg_database("import") as url:
        result, command = bench.child([PY, "-m", "bench.import_rebuild", "import", str(log), url])
        _report_import(bench, f"{section}/postgres", "import (1 run)", [result], command)
        results, command = bench.repeated(lambda i: [PY, "-m", "bench.import_rebuild", "rebuild", url])
        _report_import(bench, f"{section}/postgres", "projections rebuild", results, command)


def _report_import(bench: Bench, section: str, what: str, results: list[dict[str, Any]], command: str) -> None:
    bench.add_median(section, f"{what}: events/s", results, "events_per_s", "/s", command)
    bench.add_median(section, f"{what}: peak RSS of the process", results, "peak_rss_mb", "MiB", command)


def queries(bench: Bench, url: str) -> None:
    """Read latency on the large registry, live and as of the first, middle and last points of the log."""
    print("[queries]", flush=True)
    result, command = bench.child([PY, "-m", "bench.registry_ops", "queries", url])
    for key, value in result.items():
        unit = "ms" if key.endswith("_ms") else ""
        bench.add("queries", key, float(value), unit, command, note="median of 20 calls")


def cli(bench: Bench, url: str) -> None:
    """Whole-process start-up of the CLI beside its floors."""
    print("[cli]", flush=True)
    home = scratch_dir("clihome_")
    result, command = bench.child([PY, "-m", "bench.cli_start", str(home), url, str(max(5, bench.runs))])
    for key, value in result.items():
        bench.add("cli", key, float(value), "s", command)
    floor = result["sqlalchemy+click CLI floor (one SELECT)"]
    bench.ratio("cli", "modelog model list (large) / SQLAlchemy CLI floor", result["modelog model list (large)"],
                floor, "<= 1.2")
    bench.add("cli", "modelog --help - python -c 'import click'",
              result["modelog --help"] - result["python -c 'import click'"], "s", "difference of the medians",
              note="target <= 0.1")


def pipeline(bench: Bench) -> None:
    """Per-step overhead of an SDK pipeline in a model context."""
    print("[pipeline]", flush=True)
    result, command = bench.child([PY, "-m", "bench.pipeline_overhead", str(scratch_dir("pipeline_")),
                                   str(max(5, bench.runs))])
    for key, value in result.items():
        bench.add("pipeline", key, float(value), "ms", command, note="target < 5 ms per step" if "per" in key else "")


def mlflow(bench: Bench, n: int) -> None:
    """MLflow's registry and modelog doing the same: n versions, then list and gets."""
    print(f"[mlflow] {n} versions", flush=True)
    ours, command = bench.repeated(lambda i: [PY, "-m", "bench.registry_ops", "versions",
                                              sqlite_url(scratch_dir("versions_")), str(n)])
    mine = {key: bench.add_median("mlflow", f"modelog: {key}", ours, key, "/s" if "per_s" in key else "ms", command)
            for key in ours[0]}
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        bench.add("mlflow", "mlflow", "not installed", "", f"run: {MLFLOW_INSTALL}")
        return
    theirs, command = bench.repeated(lambda i: [str(python), "bench/peers/mlflow_registry.py",
                                                str(scratch_dir("mlflow_")), str(n)])
    peer = {key: bench.add_median("mlflow", f"mlflow {theirs[0]['mlflow']}: {key}", theirs, key,
                                  "/s" if "per_s" in key else "ms", command)
            for key in theirs[0] if key != "mlflow"}
    bench.ratio("mlflow", "modelog versions/s / mlflow versions/s", mine["versions_per_s"], peer["versions_per_s"],
                ">= 10")
    bench.ratio("mlflow", "mlflow list-all ms / modelog list-all ms", peer["search_all_ms"], mine["list_all_ms"],
                ">= 10 (<= 10 ms)")


# --- entry point -----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import sqlite3

    info = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": version("sqlalchemy"), "psycopg": version("psycopg")}
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                            text=True).stdout.strip()
        info["postgres"] = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"],
                                          capture_output=True, text=True).stdout.strip()
    except (OSError, ValueError):
        pass
    return info


def print_table(figures: list[Figure]) -> None:
    """The results as one table."""
    print(f"\n{'section':<28} {'figure':<58} {'value':>12} unit  note")
    for f in figures:
        shown = f"{f.value:,.3f}" if isinstance(f.value, float) else f.value
        print(f"{f.section:<28} {f.label:<58} {shown:>12} {f.unit:<4}  {f.note}")


SECTIONS = ("throughput", "import", "queries", "cli", "pipeline", "mlflow", "server", "mlflow-api", "ui")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections; write bench/results/<timestamp>.json."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (medians reported)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated subset of " + ", ".join(SECTIONS))
    parser.add_argument("--commands", type=int, default=1000, help="commands per throughput run")
    parser.add_argument("--models", type=int, default=10_000,
                        help="models in the generated log (10,000 = ~1.12M events, 101k versions, 1M links)")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="requests of the server section's RSS run (the read runs send a twentieth per path)")
    parser.add_argument("--registry", help="reuse this imported registry URL for queries/cli instead of importing")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    postgres = not args.no_postgres and pg_available()
    bench = Bench(args.runs, scratch_dir("modelog-bench-"))
    os.environ["BENCH_DIR"] = str(bench.scratch)
    started = time.perf_counter()
    try:
        if "throughput" in chosen:
            throughput(bench, args.commands, postgres)
        url = args.registry or ""
        if "import" in chosen:
            url = import_rebuild(bench, args.models, postgres)
        if url and "queries" in chosen:
            queries(bench, url)
        if url and "cli" in chosen:
            cli(bench, url)
        if "pipeline" in chosen:
            pipeline(bench)
        if "mlflow" in chosen:
            mlflow(bench, 1000)
        if "server" in chosen:
            from bench.server_section import server

            server(bench, args.requests, postgres)
        if "mlflow-api" in chosen:
            from bench.mlflow_api_section import mlflow_api

            mlflow_api(bench, 1000)
        if "ui" in chosen:
            from bench.ui_section import ui

            ui(bench, url, args.models)
    finally:
        for manager in _PG_URLS:
            manager.__exit__(None, None, None)
        _PG_URLS.clear()
        if not args.keep:
            shutil.rmtree(bench.scratch, ignore_errors=True)
    print_table(bench.figures)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"machine": machine(), "argv": ["python", "-m", "bench", *(argv or sys.argv[1:])],
                               "seconds": time.perf_counter() - started,
                               "figures": [asdict(f) for f in bench.figures]}, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return 0
