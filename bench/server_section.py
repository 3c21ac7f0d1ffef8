"""The ``server`` section of ``python -m bench``: ``modelog server`` beside MLflow's ``mlflow server``.

Both servers run on SQLite with one worker, on 127.0.0.1 and free ports, stopped by pid; every
load comes from a separate client process (:mod:`bench.server_bench`) with the same httpx
keep-alive client. Read runs alternate between the two servers so a slow spell hits both alike.
Each read run also reports the server's CPU time per request (its process group's utime + stime
from /proc, before and after): unlike req/s, it hardly moves with the machine's load. With
PostgreSQL available, ``modelog server`` is measured on it too (MLflow stays on SQLite).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from bench.common import MLFLOW_VENV, PY, pg_database, scratch_dir, sqlite_url
from bench.pipeline_overhead import SERVER_PID_ENV
from bench.server_bench import WARMUP
from bench.servers import TOKEN_ENV, ServerProcess, group_cpu_seconds, mlflow_server, modelog_server, server_token

if TYPE_CHECKING:
    from bench.run import Bench

SECTION = "server"
SEEDED = 500
MLFLOW_READS = 2000
#: Load-client processes of the saturation run (each one keep-alive connection), and the GETs each sends.
CLIENTS = 4
MODELOG_PATHS = ("alias=/api/v1/models/m/versions/%40champion", "stage=/api/v1/models/m/versions/production")
MLFLOW_PATHS = (f"get=/api/2.0/mlflow/model-versions/get?name=m&version={SEEDED // 2}",
                "alias=/api/2.0/mlflow/registered-models/alias?name=m&alias=champion")


def server(bench: Bench, requests: int, postgres: bool = False) -> None:
    """Reads by alias and stage, durable creation, RSS, remote pipeline steps and the remote walkthrough; the
    reads, creation and steps again with ``modelog server`` on PostgreSQL when ``postgres``."""
    print(f"[{SECTION}] {SEEDED} versions seeded; reads of {requests // 20:,} per path and run", flush=True)
    have_mlflow = (MLFLOW_VENV / "bin" / "mlflow").exists()
    if not have_mlflow:
        from bench.run import MLFLOW_INSTALL

        bench.add(SECTION, "mlflow server", "not installed", "", f"run: {MLFLOW_INSTALL}")
    with ExitStack() as stack:
        ours = stack.enter_context(modelog_server(sqlite_url(scratch_dir("srv_")), scratch_dir("srvhome_") / "home"))
        env = _client_env(ours)
        found = _seed(bench, ours, env, "modelog", [PY, "-m", "bench.server_bench", "seed", ours.url])
        peer = stack.enter_context(mlflow_server(scratch_dir("mlflow_srv_"))) if have_mlflow else None
        if peer is not None:
            found |= _seed(bench, peer, {}, "mlflow",
                           [str(MLFLOW_VENV / "bin" / "python"), "bench/peers/mlflow_server.py", peer.url])
        found |= _reads(bench, ours, env, peer, requests // 20)
        if peer is not None:
            peer.stop()
            _ratios(bench, found)
        _rss(bench, ours, env, requests)
        _pipeline(bench, ours, env)
    if postgres:
        _on_postgres(bench, requests // 20)


def _on_postgres(bench: Bench, n: int) -> None:
    """``modelog server`` on PostgreSQL: creation, reads (sequential and saturated) and remote pipeline steps."""
    with pg_database("srv") as url, modelog_server(url, scratch_dir("srvpghome_") / "home") as ours:
        env = _client_env(ours)
        result, command = bench.child([PY, "-m", "bench.server_bench", "seed", ours.url, str(SEEDED)], env=env,
                                      shown_env=_shown(ours, env))
        bench.add(SECTION, "postgres: durable version creation through its SDK over HTTP",
                  float(result["versions_per_s"]), "/s", command, note="RegistryAPI over HTTP (RemoteRegistry), 1 run")
        rounds = []
        for _ in range(bench.runs):
            rounds.append({"postgres": _timed_reads(bench, ours, [PY, "-m", "bench.server_bench", "reads", ours.url,
                                                                  str(n), *MODELOG_PATHS], env, n + WARMUP),
                           "postgres saturated": _timed_reads(bench, ours, [
                               PY, "-m", "bench.server_bench", "saturate", ours.url, str(CLIENTS), str(n // CLIENTS),
                               _path(MODELOG_PATHS[0])], env, CLIENTS * (n // CLIENTS + WARMUP))})
        _report_reads(bench, rounds)
        _pipeline_steps(bench, "postgres remote", ours, env)


def _timed_reads(bench: Bench, server: ServerProcess, argv: list[str], env: dict[str, str],
                 requests: int) -> tuple[dict[str, Any], str]:
    """A read child's result, with the server's CPU time per request it sent (``requests`` per label)."""
    before = group_cpu_seconds(server.pid)
    result, command = bench.child(argv, env=env, shown_env=_shown(server, env))
    labels = sum(1 for key in result if key.endswith("_p50_ms")) if "clients" not in result else 1
    result["server_cpu_ms_per_req"] = (group_cpu_seconds(server.pid) - before) * 1000 / (requests * labels)
    return result, command


def _client_env(server: ServerProcess) -> dict[str, str]:
    token = server_token(server)
    return {TOKEN_ENV: token} if token else {}


def _shown(server: ServerProcess, env: dict[str, str], url: bool = False) -> str:
    parts = ([f"MODELOG_URL=http://127.0.0.1:{server.port}"] if url else []) + [f"{k}=..." for k in env]
    return " ".join(parts)


def _seed(bench: Bench, server: ServerProcess, env: dict[str, str], who: str, argv: list[str]) -> dict[str, float]:
    result, command = bench.child([*argv, str(SEEDED)], env=env, shown_env=_shown(server, env))
    label = f"{who}: durable version creation through its SDK over HTTP"
    note = "MlflowClient.create_model_version" if who == "mlflow" else "RegistryAPI over HTTP (RemoteRegistry)"
    bench.add(SECTION, label, float(result["versions_per_s"]), "/s", command, note=f"{note}, 1 run")
    return {f"{who}.create": float(result["versions_per_s"])}


def _reads(bench: Bench, ours: ServerProcess, env: dict[str, str], peer: ServerProcess | None,
           n: int) -> dict[str, float]:
    rounds: list[dict[str, tuple[dict[str, Any], str]]] = []
    few = min(n, MLFLOW_READS)
    for _ in range(bench.runs):
        done = {"modelog": _timed_reads(bench, ours, [PY, "-m", "bench.server_bench", "reads", ours.url, str(n),
                                                      *MODELOG_PATHS], env, n + WARMUP),
                "modelog saturated": _timed_reads(bench, ours, [
                    PY, "-m", "bench.server_bench", "saturate", ours.url, str(CLIENTS), str(n // CLIENTS),
                    _path(MODELOG_PATHS[0])], env, CLIENTS * (n // CLIENTS + WARMUP))}
        if peer is not None:
            done["mlflow"] = _timed_reads(bench, peer, [PY, "-m", "bench.server_bench", "reads", peer.url, str(few),
                                                        *MLFLOW_PATHS], {}, few + WARMUP)
            done["mlflow saturated"] = _timed_reads(bench, peer, [
                PY, "-m", "bench.server_bench", "saturate", peer.url, str(CLIENTS), str(few // CLIENTS),
                _path(MLFLOW_PATHS[1])], {}, CLIENTS * (few // CLIENTS + WARMUP))
        rounds.append(done)
    return _report_reads(bench, rounds)


def _report_reads(bench: Bench, rounds: list[dict[str, tuple[dict[str, Any], str]]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for who in rounds[0]:
        results, command = [r[who][0] for r in rounds], rounds[0][who][1]
        for key in results[0]:
            unit = "/s" if key.endswith("per_s") else "ms"
            if key == "clients":
                continue
            note = "target p99 <= 5 ms" if who == "modelog" and key.endswith("p99_ms") else ""
            if key == "server_cpu_ms_per_req":
                note = "server process group utime+stime per request (/proc), warm-up included"
            found[f"{who}.{key}"] = bench.add_median(SECTION, f"{who} GET {key}", results, key, unit, command,
                                                     note=note)
    return found


def _path(labelled: str) -> str:
    return labelled.split("=", 1)[1]


def _ratios(bench: Bench, f: dict[str, float]) -> None:
    peer = min(f["mlflow.get_req_per_s"], f["mlflow.alias_req_per_s"])
    for what in ("alias", "stage"):
        bench.ratio(SECTION, f"modelog by {what} req/s / mlflow (slower of get, by alias)",
                    f[f"modelog.{what}_req_per_s"], peer, ">= 10")
    bench.ratio(SECTION, "modelog by alias req/s / mlflow by alias req/s", f["modelog.alias_req_per_s"],
                f["mlflow.alias_req_per_s"], ">= 10")
    bench.ratio(SECTION, f"saturated ({CLIENTS} clients) by alias: modelog req/s / mlflow req/s",
                f["modelog saturated.req_per_s"], f["mlflow saturated.req_per_s"], ">= 10")
    bench.ratio(SECTION, "modelog versions/s / mlflow versions/s (each through its server)", f["modelog.create"],
                f["mlflow.create"], ">= 5")


def _rss(bench: Bench, ours: ServerProcess, env: dict[str, str], requests: int) -> None:
    result, command = bench.child([PY, "-m", "bench.server_bench", "rss", ours.url, str(ours.pid), str(requests),
                                   _path(MODELOG_PATHS[0])], env=env, shown_env=_shown(ours, env))
    note = f"samples (MiB): {result['samples_mib']}"
    for key in ("req_per_s", "rss_start_mib", "rss_end_mib", "rss_max_mib", "rss_drift_pct", "rss_spread_pct"):
        unit = "/s" if key.endswith("per_s") else ("%" if key.endswith("pct") else "MiB")
        bench.add(SECTION, f"RSS over {requests:,} GET by alias: {key}", float(result[key]), unit, command,
                  note=note if key == "rss_drift_pct" else ("target within +-10 %" if key.endswith("pct") else ""))


def _pipeline_steps(bench: Bench, where: str, ours: ServerProcess | None, env: dict[str, str]) -> None:
    """Per-step overhead of a pipeline run, local (``ours`` None) or through ``ours``."""
    extra = {"MODELOG_URL": ""} if ours is None else {"MODELOG_URL": ours.url, SERVER_PID_ENV: str(ours.pid), **env}
    shown = "" if ours is None else _shown(ours, env, url=True) + f" {SERVER_PID_ENV}=<server pid>"
    result, command = bench.child([PY, "-m", "bench.pipeline_overhead", str(scratch_dir("srvpipe_")),
                                   str(max(5, bench.runs))], env=extra, shown_env=shown)
    bench.add(SECTION, f"{where} pipeline: per-step overhead", float(result["per_step_ms"]), "ms", command,
              note="target <= 10 ms" if ours is not None else "")
    bench.add(SECTION, f"{where} pipeline: client CPU per step", float(result["per_step_cpu_ms"]), "ms", command,
              note="the SDK process's time.process_time")
    if ours is not None:
        bench.add(SECTION, f"{where} pipeline: server CPU per step", float(result["per_step_server_cpu_ms"]), "ms",
                  command, note="server process group utime+stime (/proc), totals over the runs")


def _pipeline(bench: Bench, ours: ServerProcess, env: dict[str, str]) -> None:
    _pipeline_steps(bench, "local", None, env)
    _pipeline_steps(bench, "remote", ours, env)
    train: dict[str, float] = {}
    for where, extra in (("local", {"MODELOG_URL": "", "MODELOG_HOME": str(scratch_dir("trainhome_"))}),
                         ("remote", {"MODELOG_URL": ours.url, "MODELOG_HOME": str(scratch_dir("trainhome_")),
                                     **env})):
        shown = (_shown(ours, env, url=True) if where == "remote" else "") + " MODELOG_HOME=<fresh>"
        result, command = bench.child([PY, "-m", "bench.server_bench", "walkthrough", str(bench.runs)], env=extra,
                                      shown_env=shown.strip())
        train[where] = float(result["train_s"])
        bench.add(SECTION, f"{where} walkthrough train.py (whole process)", train[where], "s", command)
    bench.ratio(SECTION, "remote train.py / local train.py", train["remote"], train["local"], "<= 2")
