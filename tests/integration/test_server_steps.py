"""Remote pipeline steps through a real ``modelog server``, on both backends: outputs inline with the step command.

A small output travels in the step command itself (one request per step); the server recomputes
its SHA-256, stores it durably, then appends. A large one is uploaded first (streamed), and a
server whose inline limit is lower gets the outputs uploaded after its 413. Refusals (hash
mismatch, bad base64, too much inline content) are one line and store nothing; a repeated command
id stores and appends once; a cut request or a server killed mid-step leaves the log, the read
models and the store consistent, with no event naming bytes the store lacks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.artifact_content import read_whole
from modelog.application.local import connect
from modelog.application.remote import COMMAND_ID_HEADER, RemoteRegistry
from modelog.application.remote_runs import INLINE_LIMIT
from modelog.application.requests import OutputBytes

from tests.server_support import MODELOG, SMALL_BODY, ServerProcess, issue_token, serving

STEPS = """
import sys
from typing import Annotated
from modelog import ModelConfig, pipeline, step

SIZE = int(sys.argv[1])

@step
def make(i: int) -> Annotated[str, "blob"]:
    return (f"{i}-" * SIZE)[:SIZE]

@pipeline(enable_cache=False, model_config=ModelConfig(name="steps", create_new_model_version=True))
def run(n: int) -> None:
    for i in range(n):
        make(i)

try:
    for _ in range(int(sys.argv[3])):
        print("run", run(int(sys.argv[2])).id, flush=True)
except Exception as error:
    print(f"Error: {error}", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with serving(db_url, tmp_path / "server-home") as running:
        yield running


def _pipeline(server: ServerProcess, home: Path, size: int, steps: int = 3, runs: int = 1) -> str:
    done = subprocess.run([sys.executable, "-c", STEPS, str(size), str(steps), str(runs)],
                          env=server.client_env(home), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _requests(server: ServerProcess, at_least: int = 0, api_only: bool = False) -> list[tuple[str, str, int]]:
    """(method, path, status) of each request in the server's access log (with ``api_only``, those under /api/v1
    but reads); a line is written after its answer, so this waits (up to 10 s) until there are ``at_least``."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
        found = [(line["method"], line["path"], line["status"]) for line in lines if line.get("event") == "request"
                 and (not api_only or (line["path"].startswith("/api/v1/") and line["method"] != "GET"))]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _store_files(server: ServerProcess) -> list[Path]:
    store = server.home / "artifacts"
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.exists() else []


def _local(server: ServerProcess) -> dict[str, str]:
    return {"PATH": str(Path(sys.executable).parent), "MODELOG_HOME": str(server.home),
            "MODELOG_DATABASE_URL": server.db_url}


def _consistent(server: ServerProcess) -> None:
    for command in (["log", "verify"], ["projections", "verify"], ["artifacts", "verify"]):
        checked = subprocess.run([str(MODELOG), *command], capture_output=True, text=True, env=_local(server),
                                 timeout=120)
        assert checked.returncode == 0, (command, checked.stdout, checked.stderr)


def _error(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    assert "\n" not in found["message"]
    return response.status_code, found["code"], found["message"]


def _inline(name: str, data: bytes, declared: str | None = None) -> dict[str, object]:
    return {"name": name, "content": base64.b64encode(data).decode(), "content_hash": declared or
            hashlib.sha256(data).hexdigest(), "data_type": "bytes", "materializer": "bytes", "kind": None}


def test_a_small_output_travels_with_its_step_one_request_per_step(server: ServerProcess, tmp_path: Path) -> None:
    _pipeline(server, tmp_path / "client", size=1000)
    sent = _requests(server, at_least=5, api_only=True)
    steps = [r for r in sent if r[0] == "POST" and r[1].endswith("/steps")]
    assert len(steps) == 3 and all(status == 200 for _, _, status in steps)
    assert not [r for r in sent if r[1] == "/api/v1/blobs"]  # no separate upload
    assert len(_store_files(server)) == 3
    with RemoteRegistry(server.url, token=server.token) as remote:
        links = remote.list_links("steps", 1)
        assert len(links) == 3
        _, data = read_whole(remote, links[1].artifact_id)
        assert json.loads(data) == "1-" * 500
    _consistent(server)


def test_a_large_output_is_uploaded_streamed_before_its_step(server: ServerProcess, tmp_path: Path) -> None:
    _pipeline(server, tmp_path / "client", size=INLINE_LIMIT + 4000, steps=2)
    sent = _requests(server, at_least=6, api_only=True)
    assert [r for r in sent if r[1] == "/api/v1/blobs"] == [("PUT", "/api/v1/blobs", 200)] * 2
    steps = [r for r in sent if r[1].endswith("/steps")]
    assert steps == [("POST", steps[0][1], 200)] * 2
    with RemoteRegistry(server.url, token=server.token) as remote:
        link = remote.list_links("steps", 1)[0]
        assert json.loads(read_whole(remote, link.artifact_id)[1]) == "0-" * ((INLINE_LIMIT + 4000) // 2)
    _consistent(server)


def test_a_server_with_a_lower_inline_limit_gets_the_outputs_uploaded_after_its_refusal(db_url: str,
                                                                                         tmp_path: Path) -> None:
    with serving(db_url, tmp_path / "server-home", extra_env={"MODELOG_SERVER_MAX_INLINE": "2000"}) as server:
        _pipeline(server, tmp_path / "client", size=5000, steps=1)
        sent = _requests(server, at_least=5, api_only=True)
        assert [status for _, _, status in sent] == [200, 413, 200, 200, 200]  # run, inline refused, blob, step, finish
        assert sent[2][:2] == ("PUT", "/api/v1/blobs")
        assert len(_store_files(server)) == 1
        _consistent(server)


def test_a_server_with_a_smaller_body_limit_gets_the_outputs_uploaded_after_its_refusal(db_url: str,
                                                                                       tmp_path: Path) -> None:
    with serving(db_url, tmp_path / "server-home", extra_env=SMALL_BODY) as server:  # 64 KiB of JSON at most
        _pipeline(server, tmp_path / "client", size=100_000, steps=1)
        sent = _requests(server, at_least=5, api_only=True)
        assert [status for _, _, status in sent] == [200, 413, 200, 200, 200]  # refused before the body was read
        assert sent[2][:2] == ("PUT", "/api/v1/blobs")
        _consistent(server)


def test_inline_outputs_are_checked_and_a_refusal_stores_and_appends_nothing(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.post("/runs", json={"run_id": "r1", "pipeline": "p"}).status_code == 200
        head = http.get("/log/head").json()["position"]
        data = b"payload" * 100
        wrong = http.post("/runs/r1/steps", json={"step": "s", "outputs": [_inline("out", data, "0" * 64)]})
        code, kind, message = _error(wrong)
        assert (code, kind) == (400, "invalid_input")
        assert message == (f"step 's', output 'out': its 700 bytes hash to sha256 {hashlib.sha256(data).hexdigest()}"
                           f", not the declared {'0' * 64}; the step was not recorded")
        bad = {**_inline("out", data), "content": "not base64!"}
        assert _error(http.post("/runs/r1/steps", json={"step": "s", "outputs": [bad]}))[:2] == (400, "invalid_input")
        both = {**_inline("out", data), "uri": "sha256/00/" + "0" * 64}
        assert "unknown field(s): uri" in _error(http.post("/runs/r1/steps", json={"step": "s", "outputs": [both]}))[2]
        big = os.urandom(600_000)
        too_much = http.post("/runs/r1/steps", json={"step": "s", "outputs": [_inline("out", big)]})
        assert _error(too_much)[:2] == (413, "body_too_large")
        assert "600000 bytes of inline output content, over this server's limit of 524288" in _error(too_much)[2]
        assert http.get("/log/head").json()["position"] == head
        assert _store_files(server) == []
        fine = http.post("/runs/r1/steps", json={"step": "s", "outputs": [_inline("out", data)]})
        assert fine.status_code == 200 and fine.json()["outputs"][0]["content_hash"] == hashlib.sha256(data).hexdigest()
    _consistent(server)


def test_a_repeated_inline_step_command_stores_and_appends_once(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        http.post("/runs", json={"run_id": "r1", "pipeline": "p"})
        body = {"step": "s", "outputs": [_inline("out", b"once" * 50)]}
        first = http.post("/runs/r1/steps", json=body, headers={COMMAND_ID_HEADER: "step-1"})
        head = http.get("/log/head").json()["position"]
        again = http.post("/runs/r1/steps", json=body, headers={COMMAND_ID_HEADER: "step-1"})
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert again.headers["X-Modelog-Replayed"] == "true"
        assert http.get("/log/head").json()["position"] == head
        assert [s["step"] for s in http.get("/runs/r1/steps").json()["items"]] == ["s"]
        assert len(http.get("/artifacts").json()["items"]) == 1
    assert len(_store_files(server)) == 1


def test_remote_complete_step_takes_outputs_as_bytes_and_the_log_records_their_hash(server: ServerProcess) -> None:
    small, large = b"s" * 100, os.urandom(INLINE_LIMIT + 1)
    outputs = [OutputBytes(name=n, data=d, content_hash=hashlib.sha256(d).hexdigest(), data_type="bytes",
                           materializer="bytes", kind=None) for n, d in (("small", small), ("large", large))]
    with RemoteRegistry(server.url, token=server.token) as remote:
        remote.start_run("r1", "p")
        recorded = remote.complete_step("r1", "s", outputs)
        assert [o.content_hash for o in recorded.outputs] == [o.content_hash for o in outputs]
        assert [read_whole(remote, o.artifact_id)[1] for o in recorded.outputs] == [small, large]


def test_an_inline_step_cut_halfway_stores_and_appends_nothing(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        http.post("/runs", json={"run_id": "r1", "pipeline": "p"})
        head = http.get("/log/head").json()["position"]
    body = json.dumps({"step": "s", "outputs": [_inline("out", os.urandom(200_000))]}).encode()
    start = (f"POST /api/v1/runs/r1/steps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(start + body[:len(body) // 2])
    time.sleep(0.5)
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as http:
        assert http.get("/log/head").json()["position"] == head
    assert _store_files(server) == []
    _consistent(server)


def test_server_killed_mid_steps_leaves_no_event_naming_missing_bytes(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, tmp_path / "server-home")
    child = subprocess.Popen([sys.executable, "-c", STEPS, "20000", "50", "20"], env=server.client_env(
        tmp_path / "client"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while sum(r[1].endswith("/steps") for r in _requests(server)) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=60)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()
    assert child.returncode == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("Error: ") and server.url in err.splitlines()[-1], err
    restarted = ServerProcess(db_url, tmp_path / "server-home")
    try:
        _consistent(restarted)  # artifacts verify: every artifact the log records is in the store, unmodified
        with RemoteRegistry(restarted.url, token=restarted.token) as remote:
            artifacts = remote.list_artifacts()
            assert len(artifacts) >= 15
            for artifact in artifacts:  # served as the log records it, hash checked again here
                text = json.loads(read_whole(remote, artifact.artifact_id)[1])
                assert text == (text[:text.index("-") + 1] * 20000)[:20000]
    finally:
        restarted.stop()


def test_storing_inline_needs_the_role_an_upload_needs(server: ServerProcess) -> None:
    token = issue_token(server.db_url, server.home, "modeller", role=None)
    with connect(server.db_url, home=server.home) as registry:
        registry.register_model("m")
        registry.grant_role("modeller", "contributor", model="m")
    run = {"run_id": "r1", "pipeline": "p", "model": {"name": "m", "create_new_version": True}}
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.post("/runs", json=run).status_code == 200
        refused = http.post("/runs/r1/steps", json={"step": "s", "outputs": [_inline("out", b"x" * 10)]})
        assert _error(refused)[:2] == (403, "forbidden") and "contributor role" in _error(refused)[2]
        assert _error(http.put("/blobs", content=b"x" * 10, headers={
            "X-Content-SHA256": hashlib.sha256(b"x" * 10).hexdigest()}))[:2] == (403, "forbidden")
        assert http.post("/runs/r1/steps", json={"step": "s"}).status_code == 200  # no outputs: the run's model
    assert _store_files(server) == []


def test_an_artifact_is_read_in_one_request(server: ServerProcess) -> None:
    data = b"read me" * 10
    with RemoteRegistry(server.url, token=server.token) as remote:
        remote.start_run("r1", "p")
        (output,) = remote.complete_step("r1", "s", [OutputBytes(
            name="out", data=data, content_hash=hashlib.sha256(data).hexdigest(), data_type="bytes",
            materializer="bytes", kind=None)]).outputs
        _requests(server, at_least=2, api_only=True)  # the run's start and the step, logged
        before = len(_requests(server))
        artifact, read = read_whole(remote, output.artifact_id)
        assert (read, artifact.artifact_id, artifact.content_hash) == (data, output.artifact_id, output.content_hash)
        time.sleep(0.3)  # a second request, had there been one, would be logged by now too
        assert [r[1] for r in _requests(server, before + 1)[before:]] == [
            f"/api/v1/artifacts/{output.artifact_id}/content"]
