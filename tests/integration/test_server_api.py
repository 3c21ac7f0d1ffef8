"""The HTTP API of a real ``modelog server`` process: errors, de-duplication, blobs, OpenAPI, shutdown, refusals."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from modelog.application.artifact_content import read_whole
from modelog.application.local import connect
from modelog.application.remote import COMMAND_ID_HEADER, CONTENT_HASH_HEADER, RemoteRegistry
from modelog.application.requests import OutputSpec
from modelog.registry.errors import ArtifactIntegrityError, ConflictError, InvalidInputError, NotFoundError, RemoteError
from modelog.server.routes import ENDPOINTS

from tests.server_support import MODELOG, SMALL_BODY, ServerProcess, free_port, serving


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with serving(db_url, tmp_path / "server-home", extra_env=SMALL_BODY) as running:
        yield running


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30, headers=server.auth()) as client:
        yield client


def _error(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def test_errors_are_json_with_the_cli_line_and_the_right_status(http: httpx.Client, server: ServerProcess) -> None:
    assert http.post("/models", json={"name": "m"}).status_code == 200
    assert _error(http.get("/models/nope")) == (404, "not_found", "model 'nope' does not exist; models: m")
    assert _error(http.post("/models", json={"name": "M"}))[:2] == (409, "conflict")
    assert http.post("/models/m/versions", json={}).status_code == 200
    assert _error(http.put("/models/m/versions/1/stage", json={"stage": "gold"}))[:2] == (400, "invalid_input")
    assert _error(http.get("/nowhere")) == (404, "unknown_route", "no such route: GET /api/v1/nowhere")
    assert _error(http.get(server.url + "/nope"))[:2] == (404, "unknown_route")
    assert _error(http.put("/models"))[:2] == (405, "method_not_allowed")
    malformed = http.post("/models", content=b'{"name": "x",', headers={"Content-Type": "application/json"})
    assert _error(malformed)[:2] == (422, "malformed_body")
    assert _error(http.post("/models", json=["x"]))[:2] == (422, "malformed_body")
    assert _error(http.post("/models", json={"name": 3}))[2] == "field 'name' must be a string"
    assert "unknown field(s) in request body: colour" in _error(http.post("/models", json={"name": "y",
                                                                                          "colour": "red"}))[2]
    oversized = http.post("/models", json={"name": "z", "fields": {"description": "x" * 100_000}})
    assert _error(oversized)[:2] == (413, "body_too_large")
    assert _error(http.get("/models", params={"page": "two"}))[:2] == (400, "invalid_input")
    assert _error(http.get("/models", params={"as_of": "yesterday"}))[:2] == (400, "invalid_input")
    assert [m["name"] for m in http.get("/models").json()["items"]] == ["m"]  # nothing refused was written
    access = _access_lines(server, until=lambda line: line["status"] == 413)
    assert {"method", "path", "status", "duration_ms", "client", "principal"} <= set(access[0])
    assert {"method": "GET", "path": "/api/v1/models/nope", "status": 404, "principal": "tester"}.items() <= \
        next(line for line in access if line["path"] == "/api/v1/models/nope").items()


def _access_lines(server: ServerProcess, until: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The server's access lines so far, once one satisfies ``until`` (they are written within ~50 ms)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("event") == "request"]
        if any(until(line) for line in access) or time.monotonic() > deadline:
            return access
        time.sleep(0.05)


def test_a_repeated_command_id_is_answered_once_and_never_applied_twice(http: httpx.Client) -> None:
    http.post("/models", json={"name": "m"})
    first = http.post("/models/m/versions", json={"name": "a"}, headers={COMMAND_ID_HEADER: "cmd-1"})
    head = http.get("/log/head").json()["position"]
    again = http.post("/models/m/versions", json={"name": "a"}, headers={COMMAND_ID_HEADER: "cmd-1"})
    assert again.status_code == first.status_code == 200 and again.json() == first.json()
    assert again.headers["X-Modelog-Replayed"] == "true"
    assert http.get("/log/head").json()["position"] == head
    assert [v["number"] for v in http.get("/models/m/versions").json()["items"]] == [1]
    other = http.post("/models/m/versions", json={"name": "b"}, headers={COMMAND_ID_HEADER: "cmd-1"})
    assert _error(other)[:2] == (409, "duplicate_command")
    refused = http.post("/models", json={"name": "m"}, headers={COMMAND_ID_HEADER: "cmd-2"})
    assert refused.status_code == 409  # a refusal is remembered too: the retry is refused the same way
    assert http.post("/models", json={"name": "m"}, headers={COMMAND_ID_HEADER: "cmd-2"}).json() == refused.json()


def test_blobs_stream_both_ways_and_a_hash_mismatch_stores_nothing(http: httpx.Client, server: ServerProcess,
                                                                   tmp_path: Path) -> None:
    store = tmp_path / "server-home" / "artifacts"
    data = b"x" * 3_000_000
    digest = hashlib.sha256(data).hexdigest()
    wrong = http.put("/blobs", content=data, headers={CONTENT_HASH_HEADER: "0" * 64})
    assert _error(wrong)[:2] == (400, "invalid_input") and "does not match its declared sha256" in _error(wrong)[2]
    assert _error(http.put("/blobs", content=data))[2].startswith("an upload must declare its SHA-256")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start:start + 65536]

    stored = http.put("/blobs", content=chunks(), headers={CONTENT_HASH_HEADER: digest}).json()
    assert stored == {"uri": f"sha256/{digest[:2]}/{digest}", "content_hash": digest, "size": len(data)}
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == [digest]  # no temporary file left
    assert (store / stored["uri"]).read_bytes() == data
    assert _error(http.get(f"/blobs/{stored['uri']}"))[0] == 404  # bytes are served by artifact id, from the log


def test_artifact_content_is_served_as_the_log_records_it(http: httpx.Client, server: ServerProcess,
                                                           tmp_path: Path) -> None:
    with RemoteRegistry(server.url, token=server.token) as remote:
        blob = remote.store_blob(b"payload")
        remote.start_run("r1", "p")
        spec = OutputSpec(name="out", uri=blob.uri, content_hash=blob.content_hash, data_type="bytes",
                          materializer="bytes", kind=None)
        (output,) = remote.complete_step("r1", "s", [spec]).outputs
        artifact, data = read_whole(remote, output.artifact_id)
        assert (data, artifact.content_hash) == (b"payload", blob.content_hash)
        (tmp_path / "server-home" / "artifacts" / blob.uri).write_bytes(b"tampered")
        with pytest.raises(ArtifactIntegrityError, match="modified"):
            read_whole(remote, output.artifact_id)


def test_the_openapi_document_lists_every_route(http: httpx.Client, server: ServerProcess) -> None:
    document = http.get("/openapi.json").json()
    listed = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    declared = {(e.method, e.path.replace("{uri:path}", "{uri}")) for e in ENDPOINTS}
    assert declared <= listed and {("GET", "/health"), ("GET", "/api/v1/openapi.json")} <= listed
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


def test_remote_refusals_are_the_same_typed_errors(server: ServerProcess) -> None:
    with RemoteRegistry(server.url, token=server.token) as remote:
        start = remote.log_head().position  # the test principal and its token come first
        remote.register_model("m")
        with pytest.raises(NotFoundError, match="^model 'x' does not exist; models: m$"):
            remote.get_model("x")
        with pytest.raises(ConflictError):
            remote.register_model("m")
        with pytest.raises(InvalidInputError):
            remote.list_models(size=0)
        remote.create_version("m")
        before = datetime.now(UTC)
        time.sleep(0.05)
        remote.create_version("m")
        assert [v.number for v in remote.list_versions("m", as_of=before)] == [1]
        assert [v.number for v in remote.list_versions("m", as_of=before.replace(tzinfo=None).astimezone())] == [1]
        assert remote.get_model("m", at_position=start + 3).version_count == 1
        assert remote.get_model("m").version_count == 2
        assert remote.resolve_point(as_of=before) == start + 3


def test_client_side_failures_are_one_registry_error_line(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteError, match=f"^cannot reach the registry server at {dead}: "), \
            RemoteRegistry(dead, token="mlg_x", retries=2) as remote:
        remote.list_models()
    with pytest.raises(RemoteError, match="is not a server URL"):
        RemoteRegistry("ftp://example.org")

    def not_modelog(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with pytest.raises(RemoteError, match="did not answer as a modelog server"):
        RemoteRegistry("http://proxy.invalid", token="mlg_x", transport=httpx.MockTransport(not_modelog)).get_model("m")

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    with pytest.raises(RemoteError, match="malformed answer"):
        RemoteRegistry("http://odd.invalid", token="mlg_x", transport=httpx.MockTransport(garbage)).get_model("m")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(RemoteError, match="did not answer within .* may or may not have been applied"):
        RemoteRegistry("http://slow.invalid", token="mlg_x", timeout=1,
                       transport=httpx.MockTransport(slow)).register_model("m")
    env = {"PATH": str(Path(sys.executable).parent), "MODELOG_URL": dead, "MODELOG_TOKEN": "mlg_x",
           "MODELOG_HOME": str(tmp_path / "c")}
    done = subprocess.run([str(MODELOG), "model", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"Error: cannot reach the registry server at {dead}") and \
        done.stderr.count("\n") == 1, done.stderr


def test_a_non_loopback_host_is_served_with_a_tls_warning(tmp_path: Path) -> None:
    # An unreachable database makes the server stop before it listens: nothing is bound to a public address here.
    env = {"PATH": str(Path(sys.executable).parent), "MODELOG_HOME": str(tmp_path / "h"),
           "MODELOG_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"}
    done = subprocess.run([str(MODELOG), "server", "--host", "0.0.0.0"], capture_output=True, text=True, env=env,
                          timeout=60)
    lines = done.stderr.splitlines()
    assert lines[0].startswith("Warning: listening on 0.0.0.0: tokens and data cross the network in clear text")
    assert "TLS reverse proxy" in lines[0] and "refusing" not in done.stderr
    assert done.returncode == 1 and len(lines) == 2 and lines[1].startswith("Error: "), done.stderr


def test_sigterm_mid_requests_stops_gracefully_and_leaves_the_registry_consistent(db_url: str,
                                                                                  tmp_path: Path) -> None:
    home = tmp_path / "server-home"
    server = ServerProcess(db_url, home)
    remote = RemoteRegistry(server.url, token=server.token, retries=1)
    remote.register_model("m")
    errors: list[BaseException] = []
    done = threading.Event()

    def keep_writing() -> None:
        try:
            while not done.is_set():
                remote.create_version("m")
                blob = remote.store_blob(str(time.time()).encode() * 50_000)
                assert blob.size > 0 and remote.log_head().position > 0
        except RemoteError as error:
            errors.append(error)

    writers = [threading.Thread(target=keep_writing) for _ in range(2)]
    for writer in writers:
        writer.start()
    time.sleep(1.5)
    server.terminate()
    server.proc.wait(timeout=60)
    done.set()
    for writer in writers:
        writer.join(timeout=60)
    remote.close()
    assert server.stopped_gracefully(), server.log.read_text()
    assert errors and all(isinstance(e, RemoteError) for e in errors)  # the clients saw one line, not a traceback
    env = {"PATH": str(Path(sys.executable).parent), "MODELOG_HOME": str(home), "MODELOG_DATABASE_URL": db_url}
    for command in (["log", "verify"], ["projections", "verify"], ["artifacts", "verify"]):
        checked = subprocess.run([str(MODELOG), *command], capture_output=True, text=True, env=env, timeout=120)
        assert checked.returncode == 0, (command, checked.stdout, checked.stderr)


def test_a_bundle_exported_through_the_server_restores_log_and_artifacts_elsewhere(server: ServerProcess,
                                                                                    tmp_path: Path) -> None:
    with RemoteRegistry(server.url, token=server.token) as remote:
        blob = remote.store_blob(b"kept")
        remote.start_run("r1", "p")
        spec = OutputSpec(name="out", uri=blob.uri, content_hash=blob.content_hash, data_type="bytes",
                          materializer="bytes", kind=None)
        (output,) = remote.complete_step("r1", "s", [spec]).outputs
        bundle = io.BytesIO()
        sent = remote.export_bundle(bundle)
        head = remote.log_head()
    assert (sent.events, sent.artifacts, sent.bundle) == (head.position, 1, True)
    bundle.seek(0)
    with connect(f"sqlite:///{tmp_path / 'copy.db'}", home=tmp_path / "copy", writable=True) as copy:
        assert copy.import_bundle(bundle).artifacts == 1
        assert copy.log_head() == head and copy.verify_artifacts().ok
        assert read_whole(copy, output.artifact_id)[1] == b"kept"
