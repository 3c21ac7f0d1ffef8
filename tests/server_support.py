"""A real ``modelog server`` process for tests: started on 127.0.0.1 and a free port, stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from modelog.application.local import connect
from modelog.registry.errors import ConflictError

MODELOG = Path(sys.executable).parent / "modelog"
#: The principal every test server's clients authenticate as (unless a test makes its own).
PRINCIPAL = "tester"


def issue_token(db_url: str, home: Path, principal: str = PRINCIPAL, *, expires: str | None = None,
                role: str | None = "admin") -> str:
    """An API token for ``principal`` (added if missing, and granted ``role`` registry-wide unless None), made
    directly on the registry, as an operator does."""
    with connect(db_url, home=home) as registry:
        with contextlib.suppress(ConflictError):
            registry.add_principal(principal)
        if role is not None:
            registry.grant_role(principal, role)
        token = registry.create_token(principal, expires=expires).token
    assert token is not None
    return token


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``modelog server`` serving ``db_url`` with its artifacts in ``home``."""

    def __init__(self, db_url: str, home: Path, *, workers: int = 1, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
        env.update(MODELOG_HOME=str(home), MODELOG_DATABASE_URL=db_url, MODELOG_ACTOR="server-operator",
                   **(extra_env or {}))
        home.mkdir(parents=True, exist_ok=True)
        self.db_url, self.home = db_url, home
        self.token = issue_token(db_url, home)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen([str(MODELOG), "--log-format", "json", "server", "--port", str(self.port),
                                      "--workers", str(workers)], env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until /health answers 200 (or fail with the server's log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server did not become ready: {self.log.read_text()}")

    def client_env(self, home: Path) -> dict[str, str]:
        """The environment of a remote client: MODELOG_URL, its own (empty) home, no database URL."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
        env.update(MODELOG_URL=self.url, MODELOG_TOKEN=self.token, MODELOG_HOME=str(home),
                   MODELOG_ACTOR="remote-client")
        return env

    def auth(self) -> dict[str, str]:
        """The headers of a request authenticated as :data:`PRINCIPAL`."""
        return {"Authorization": f"Bearer {self.token}"}

    def terminate(self) -> None:
        """Send SIGTERM (uvicorn finishes requests in flight, then exits)."""
        os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM by pid and wait for the exit; its status (uvicorn re-raises SIGTERM after a graceful stop)."""
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()
        return int(self.proc.returncode)

    def stopped_gracefully(self) -> bool:
        """True when the process exited on SIGTERM after closing the registry (the app's shutdown ran)."""
        return self.proc.returncode in (0, -signal.SIGTERM) and '"event": "stopped"' in self.log.read_text()


#: The JSON body limit of the test servers that check oversized bodies (64 KiB: a CLI argument can exceed it).
SMALL_BODY = {"MODELOG_SERVER_MAX_BODY": "65536"}


@contextlib.contextmanager
def serving(db_url: str, home: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A running server (see :class:`ServerProcess`) for the block, stopped after it."""
    running = ServerProcess(db_url, home, extra_env=extra_env)
    try:
        yield running
    finally:
        running.stop()
