"""Real MLflow for tests: its own virtualenv (built once, cached), a registry filled by MLflow's client, a server.

MLflow is never installed into the project's environment: it lives in ``.venv-bench-mlflow`` (the
bench's peer environment, ignored by git; ``$BENCH_MLFLOW_VENV`` moves it), built here on first use
(about three minutes, once per checkout or CI run). When it cannot be built, the tests that need it
skip on a laptop and fail under CI (``CI=true`` or ``MODELOG_REQUIRE_MLFLOW=1``, as ``.ci/run`` sets).

``python -m tests.mlflow_support`` builds it alone (``.ci/run`` does, before the tests).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_support import free_port

REPO = Path(__file__).resolve().parents[1]
MLFLOW_REQUIREMENT = "mlflow==3.17.2"
VENV = Path(os.environ.get("BENCH_MLFLOW_VENV", REPO / ".venv-bench-mlflow"))
SEED = REPO / "tests" / "mlflow_seed.py"


def _required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
        "MODELOG_REQUIRE_MLFLOW", "") == "1"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"MLflow is needed under CI and {reason}")
    pytest.skip(reason)


def _has_mlflow(python: Path) -> bool:
    if not python.exists():
        return False
    found = subprocess.run([str(python), "-c", "import sys; from importlib.metadata import version; "
                                          "sys.stdout.write(version('mlflow'))"],
                           capture_output=True, text=True, check=False)
    return found.returncode == 0 and f"=={found.stdout.strip()}" in MLFLOW_REQUIREMENT


def mlflow_python() -> Path:
    """The MLflow virtualenv's Python, building the virtualenv first if needed (under a lock: one builder)."""
    python = VENV / "bin" / "python"
    if _has_mlflow(python):
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / f".{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _has_mlflow(python):
            started = time.monotonic()
            steps = [["python3", "-m", "venv", "--clear", str(VENV)],
                     [str(python), "-m", "pip", "install", "--quiet", MLFLOW_REQUIREMENT]]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    _unavailable(f"building {VENV} failed ({' '.join(step[:4])}...): {done.stderr[-1500:]}")
            print(f"built {VENV} with {MLFLOW_REQUIREMENT} in {time.monotonic() - started:.0f}s")
    if not _has_mlflow(python):
        _unavailable(f"{VENV} has no {MLFLOW_REQUIREMENT}")
    return python


def seed_registry(directory: Path) -> tuple[Path, dict[str, Any]]:
    """An MLflow registry in ``directory/mlflow.db`` filled by ``tests/mlflow_seed.py`` through MlflowClient,
    and what MLflow reports of its live versions."""
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "mlflow.db"
    done = subprocess.run([str(mlflow_python()), str(SEED), f"sqlite:///{database}"], capture_output=True,
                          text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"seeding MLflow failed: {done.stderr[-3000:]}")
    return database, json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def mlflow_server(database: Path, directory: Path) -> Iterator[str]:
    """``mlflow server`` on a copy of ``database`` at 127.0.0.1:<free port>; its URL. Stopped by its pid's group."""
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / "server.db"
    shutil.copyfile(database, copy)
    port = free_port()
    mlflow = mlflow_python().parent / "mlflow"
    log = directory / "mlflow-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(mlflow), "server", "--backend-store-uri", f"sqlite:///{copy}",
                                 "--default-artifact-root", str(directory / "artifacts"), "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"mlflow server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"mlflow server did not become ready: {log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:  # its helper processes may outlive SIGTERM for a while; nothing of theirs is kept
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


if __name__ == "__main__":
    started = time.monotonic()
    print(f"{mlflow_python()} ready in {time.monotonic() - started:.0f}s")
