"""Server processes for the ``server`` section: ``modelog server`` and MLflow's ``mlflow server``.

Each is started on 127.0.0.1 and a free port, waited for until its health route answers, and
stopped by its pid (SIGTERM, then SIGKILL after a grace period). The load clients run in their
own processes (:mod:`bench.server_bench`), never in the process that started the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from bench.common import MLFLOW_VENV, PY

#: The bearer token the load clients send (``Authorization: Bearer $MODELOG_TOKEN``), when set.
TOKEN_ENV = "MODELOG_TOKEN"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth_headers() -> dict[str, str]:
    """``Authorization: Bearer $MODELOG_TOKEN`` when the variable is set, else no header at all."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def rss_mib(pid: int) -> float:
    """The resident set size of process ``pid`` in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (a server and its workers), from
    /proc: a load-independent measure of the work a server did (sample before and after a load run)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ..., utime (12th), stime (13th)
            total += int(fields[11]) + int(fields[12])
    return total / tick


class ServerProcess:
    """A server child process on 127.0.0.1:<free port>, its output in ``log``; a context manager."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, health: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.env, self.log, self.health = env, log, health
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's pid (the process that serves: one worker, no supervisor)."""
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> ServerProcess:
        with self.log.open("wb") as out:
            # Its own session: stopping the group by the leader's pid also stops a server that forks its workers.
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self._wait_ready()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + self.health, timeout=2, headers=auth_headers()).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not become ready: {self.log.read_text()[-2000:]}")

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the process group of our pid, then SIGKILL if it has not exited within ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def modelog_server(db_url: str, home: Path) -> ServerProcess:
    """``modelog server`` (one worker) over ``db_url``, its artifacts under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    env.update(MODELOG_HOME=str(home), MODELOG_DATABASE_URL=db_url, MODELOG_ACTOR="bench-server")
    home.mkdir(parents=True, exist_ok=True)
    modelog = str(Path(PY).parent / "modelog")
    return ServerProcess([modelog, "--log-format", "json", "server", "--port", "{port}", "--workers", "1"], env,
                         home.parent / f"{home.name}-server.log", "/health")


def server_token(server: ServerProcess) -> str | None:
    """A bearer token for the bench's clients against ``server``: principal ``bench`` (admin) and a token for it,
    created on the server's registry directly (as an operator bootstraps the first principal). The harness exports it
    as ``$MODELOG_TOKEN`` to every load client and remote SDK process it starts."""
    modelog = str(Path(PY).parent / "modelog")
    known = subprocess.run([modelog, "principal", "list", "-o", "json"], env=server.env, capture_output=True,
                           text=True, check=True)
    if not any(p.get("name") == "bench" for p in json.loads(known.stdout)):
        subprocess.run([modelog, "principal", "add", "bench"], env=server.env, capture_output=True, check=True)
    # the bench drives every use case: full rights (granting again records nothing)
    subprocess.run([modelog, "grant", "bench", "admin"], env=server.env, capture_output=True, check=True)
    made = subprocess.run([modelog, "token", "create", "bench", "-o", "json"], env=server.env, capture_output=True,
                          text=True, check=True)
    return str(json.loads(made.stdout)["token"])


def mlflow_server(directory: Path) -> ServerProcess:
    """MLflow's ``mlflow server`` (one worker) on a SQLite file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    mlflow = str(MLFLOW_VENV / "bin" / "mlflow")
    return ServerProcess([mlflow, "server", "--backend-store-uri", f"sqlite:///{directory}/mlflow.db",
                          "--default-artifact-root", str(directory / "artifacts"), "--host", "127.0.0.1",
                          "--port", "{port}", "--workers", "1"], env, directory / "server.log", "/health")
