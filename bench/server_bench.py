"""Load clients of the ``server`` section, each run as its own process (never inside a server's).

Usage::

    python -m bench.server_bench reads URL N LABEL=PATH [LABEL=PATH ...]
    python -m bench.server_bench saturate URL CLIENTS N PATH
    python -m bench.server_bench rss URL PID N PATH
    python -m bench.server_bench seed URL N
    python -m bench.server_bench walkthrough RUNS

``reads``: one ``httpx.Client`` (keep-alive, one connection) sends N sequential GETs per path after
a warm-up, each answer checked for 200 and JSON; prints req/s, p50 and p99 per label. The same
client measures MLflow's routes, so both servers are judged by one yardstick.
``saturate``: CLIENTS ``reads`` processes at once (each its own keep-alive connection, N GETs);
prints the aggregate req/s (all requests over the wall time of the whole burst), the server's throughput.
``rss``: N GETs of PATH, sampling the server's VmRSS from /proc/PID/status 21 times.
``seed``: through the remote SDK (RegistryAPI over HTTP, ``$MODELOG_URL`` = URL), register model
``m``, create N versions (each a durable command answered after its commit), then point alias
``champion`` at version N/2 and move it to production; prints versions/s.
``walkthrough``: wall time of ``examples/model_control_plane/train.py`` as a child process with
this process's environment (local: ``$MODELOG_HOME``; remote: ``$MODELOG_URL``), median of RUNS.
Every request carries ``Authorization: Bearer $MODELOG_TOKEN`` when that variable is set.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import PY, REPO, emit, median
from bench.servers import auth_headers, rss_mib

WARMUP = 200
TRAIN = REPO / "examples" / "model_control_plane" / "train.py"


def _client(url: str) -> httpx.Client:
    """The one keep-alive client every load run uses (a single connection, like a sequential caller)."""
    return httpx.Client(base_url=url, headers=auth_headers(), timeout=30.0,
                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))


def _get(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status_code}: {response.text[:300]}")
    response.json()


def _percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def reads(url: str, n: int, labelled: list[str]) -> dict[str, float]:
    """req/s, p50 and p99 (ms) of ``n`` sequential GETs of each ``LABEL=PATH``."""
    out: dict[str, float] = {}
    with _client(url) as client:
        for item in labelled:
            label, path = item.split("=", 1)
            for _ in range(WARMUP):
                _get(client, path)
            times = []
            started = time.perf_counter()
            for _ in range(n):
                t0 = time.perf_counter()
                _get(client, path)
                times.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - started
            times.sort()
            out[f"{label}_req_per_s"] = n / elapsed
            out[f"{label}_p50_ms"] = _percentile(times, 0.50)
            out[f"{label}_p99_ms"] = _percentile(times, 0.99)
    return out


def saturate(url: str, clients: int, n: int, path: str) -> dict[str, float]:
    """Aggregate req/s of ``clients`` load processes sending ``n`` sequential GETs of ``path`` each, at once."""
    argv = [PY, "-m", "bench.server_bench", "reads", url, str(n), f"x={path}"]
    started = time.perf_counter()
    procs = [subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    outputs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - started
    if any(p.returncode for p in procs):
        raise SystemExit(f"a load client failed: {[p.returncode for p in procs]}")
    each = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    # The burst includes each client's start-up and warm-up, so this is a floor of the server's throughput.
    return {"clients": float(clients), "req_per_s": clients * (n + WARMUP) / elapsed,
            "p99_ms": max(float(e["x_p99_ms"]) for e in each)}


def rss(url: str, pid: int, n: int, path: str) -> dict[str, Any]:
    """The server's RSS over ``n`` requests: after the warm-up, at the end, the extremes and the drift."""
    samples: list[float] = []
    step = max(1, n // 20)
    with _client(url) as client:
        for _ in range(1000):
            _get(client, path)
        samples.append(rss_mib(pid))
        started = time.perf_counter()
        for i in range(1, n + 1):
            _get(client, path)
            if i % step == 0:
                samples.append(rss_mib(pid))
        elapsed = time.perf_counter() - started
    first, last = samples[0], samples[-1]
    return {"requests": n, "req_per_s": n / elapsed, "rss_start_mib": first, "rss_end_mib": last,
            "rss_min_mib": min(samples), "rss_max_mib": max(samples),
            "rss_drift_pct": (last - first) / first * 100,
            "rss_spread_pct": (max(samples) - min(samples)) / first * 100,
            "samples_mib": [round(s, 1) for s in samples]}


def seed(url: str, n: int) -> dict[str, float]:
    """Create model ``m`` and ``n`` versions through the remote SDK; alias and stage the middle one."""
    from modelog.application.remote import RemoteRegistry

    with RemoteRegistry(url, actor="bench") as api:
        api.register_model("m")
        api.create_version("m")  # warm-up: the connection, the server's first command
        started = time.perf_counter()
        for _ in range(n):
            api.create_version("m")
        elapsed = time.perf_counter() - started
        middle = str(n // 2)
        api.set_alias("m", middle, "champion")
        api.set_stage("m", middle, "production")
        assert api.get_version("m", "@champion").number == int(middle)
    return {"versions_per_s": n / elapsed, "version_ms": elapsed / n * 1000}


def walkthrough(runs: int) -> dict[str, float]:
    """Median wall seconds of the producer pipeline ``train.py`` in a child process (this process's env)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([PY, str(TRAIN)], cwd=TRAIN.parent, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"train.py failed: {done.stderr[-2000:]}")
    return {"train_s": median(times), "runs": float(runs)}


def main(argv: list[str]) -> dict[str, Any]:
    """Dispatch one load client."""
    kind, args = argv[0], argv[1:]
    if kind == "reads":
        return reads(args[0], int(args[1]), args[2:])
    if kind == "saturate":
        return saturate(args[0], int(args[1]), int(args[2]), args[3])
    if kind == "rss":
        return rss(args[0], int(args[1]), int(args[2]), args[3])
    if kind == "seed":
        return seed(args[0], int(args[1]))
    if kind == "walkthrough":
        return walkthrough(int(args[0]))
    raise SystemExit(__doc__)


if __name__ == "__main__":
    emit(main(sys.argv[1:]))
