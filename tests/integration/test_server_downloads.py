"""Artifact downloads through a real ``modelog server``: streamed both ways, checked before anything is loaded.

A 300 MiB artifact is uploaded and downloaded with the server's and the client's memory far below
its size (SQLite is enough for that: the bytes never touch the database). On both backends: a
download cut by a server killed mid-transfer is one line and leaves no file behind; a blob changed
on the server's disk is refused by the client (a one-chunk file with the server's own error, a
larger one as a body ended short), never handed over as a complete answer; a local load checks the
same way.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from modelog.application.local import connect
from modelog.application.remote import CONTENT_HASH_HEADER, RemoteRegistry
from modelog.application.requests import OutputBytes, OutputSpec
from modelog.registry.artifact_store import uri_for
from modelog.registry.errors import ArtifactIntegrityError, RemoteError

from tests.server_support import MODELOG, ServerProcess, serving

MIB = 1 << 20
LARGE = 300 * MIB
#: Most a side's memory may grow while it moves :data:`LARGE` bytes.
GROWTH = 100 * MIB

#: A client process: downloads (``file``) or loads (``load``) an artifact through the SDK, then prints how far its
#: memory grew past what it held once connected (VmHWM minus that VmRSS, in bytes); one ``Error:`` line otherwise.
CLIENT = """
import sys
from modelog import Client

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

mode, artifact_id, target = sys.argv[1:4]
try:
    with Client() as client:
        client.get_artifact(artifact_id)  # connected, modules loaded: the baseline
        before = status("VmRSS")
        if mode == "file":
            client.download_artifact(artifact_id, target)
        else:
            value = client.load_artifact(artifact_id)
            print("loaded", type(value).__name__, getattr(value, "nbytes", len(value)), flush=True)
        print("growth", status("VmHWM") - before, flush=True)
except Exception as error:
    print(f"Error: {error}", file=sys.stderr)
    sys.exit(1)
"""


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _pattern(size: int) -> Iterator[bytes]:
    """``size`` bytes that do not repeat within a chunk (a chunk's index in its first bytes)."""
    block = hashlib.sha256(b"modelog").digest() * (MIB // 32)
    for index in range(0, size, MIB):
        yield (index.to_bytes(8, "big") + block)[:min(MIB, size - index)]


def _digest(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _record(server: ServerProcess, size: int, run_id: str = "r1") -> tuple[str, str]:
    """Upload ``size`` bytes (streamed) and record them as a step's output; the artifact id and hash."""
    digest = _digest(_pattern(size))
    with httpx.Client(base_url=server.url + "/api/v1", headers=server.auth(), timeout=120) as http:
        stored = http.put("/blobs", content=_pattern(size), headers={CONTENT_HASH_HEADER: digest})
        assert stored.status_code == 200, stored.text
    with RemoteRegistry(server.url, token=server.token) as remote:
        remote.start_run(run_id, "p")
        spec = OutputSpec(name="out", uri=uri_for(digest), content_hash=digest, data_type="builtins.bytes",
                          materializer="pickle", artifact_name=f"big-{run_id}", kind=None)
        (output,) = remote.complete_step(run_id, "s", [spec]).outputs
    return output.artifact_id, digest


def _client(server: ServerProcess, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**server.client_env(tmp_path / "client-home"), "TMPDIR": str(_tmpdir(tmp_path))}
    return subprocess.Popen([sys.executable, "-c", CLIENT, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _tmpdir(tmp_path: Path) -> Path:
    path = tmp_path / "client-tmp"
    path.mkdir(exist_ok=True)
    return path


def _growth(stdout: str) -> int:
    return next(int(line.split()[1]) for line in stdout.splitlines() if line.startswith("growth "))


def test_a_large_artifact_streams_both_ways_in_little_memory(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "server-home") as server:
        started = _status(server.proc.pid, "VmRSS")
        peak = [started]
        sampling = threading.Event()

        def sample() -> None:  # VmHWM would do too; samples also show the memory is given back
            while not sampling.wait(0.02):
                peak[0] = max(peak[0], _status(server.proc.pid, "VmRSS"))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            artifact_id, digest = _record(server, LARGE)
            target = tmp_path / "downloaded.bin"
            client = _client(server, tmp_path, "file", artifact_id, str(target))
            out, err = client.communicate(timeout=120)
        finally:
            sampling.set()
            sampler.join()
        assert client.returncode == 0, err
        assert target.stat().st_size == LARGE and _file_digest(target) == digest
        assert _growth(out) < GROWTH, f"the client grew by {_growth(out) / MIB:.0f} MiB for {LARGE // MIB} MiB"
        hwm = _status(server.proc.pid, "VmHWM")
        assert peak[0] - started < GROWTH and hwm - started < GROWTH, (
            f"the server grew by {(max(peak[0], hwm) - started) / MIB:.0f} MiB for {LARGE // MIB} MiB up and down")
        assert list(_tmpdir(tmp_path).iterdir()) == []
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".downloaded")] == []


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return _digest(iter(lambda: handle.read(MIB), b""))


def test_a_loaded_value_is_the_only_copy_the_client_holds(tmp_path: Path) -> None:
    """load_artifact deserialises from the verified spool file: the value, not the value plus the bytes (twice)."""
    import pickle

    size = 64 * MIB
    data = bytes(_pattern(size).__next__()) * (size // MIB)
    with serving(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "server-home") as server:
        with RemoteRegistry(server.url, token=server.token) as remote:
            remote.start_run("r1", "p")
            pickled = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
            (output,) = remote.complete_step("r1", "s", [OutputBytes(
                name="out", data=pickled, content_hash=hashlib.sha256(pickled).hexdigest(),
                data_type="builtins.bytes", materializer="pickle", kind=None)]).outputs
        del data, pickled
        client = _client(server, tmp_path, "load", output.artifact_id, "-")
        out, err = client.communicate(timeout=120)
    assert client.returncode == 0, err
    assert f"loaded bytes {size}" in out
    grew = _growth(out)
    assert grew < size + 16 * MIB, f"the client grew by {grew / MIB:.0f} MiB for a {size // MIB} MiB value"


def _written(folder: Path) -> int:
    """How many bytes a download into ``folder`` has written so far (its temporary file beside the target)."""
    sizes = []
    for part in folder.glob(".downloaded.bin.*.part"):
        try:
            sizes.append(part.stat().st_size)
        except FileNotFoundError:
            continue
    return max(sizes, default=0)


def test_a_download_cut_by_a_killed_server_is_one_line_and_leaves_nothing(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, tmp_path / "server-home")
    try:
        artifact_id, _ = _record(server, 128 * MIB)
        target = tmp_path / "downloaded.bin"
        client = _client(server, tmp_path, "file", artifact_id, str(target))
        deadline = time.monotonic() + 60
        while _written(tmp_path) < 4 * MIB:  # the transfer is under way
            assert client.poll() is None and time.monotonic() < deadline, client.communicate()
            time.sleep(0.001)
        os.kill(client.pid, signal.SIGSTOP)  # held while the server dies, so it cannot finish first
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        os.kill(client.pid, signal.SIGCONT)
        out, err = client.communicate(timeout=60)
    finally:
        server.stop()
    assert client.returncode == 1, (out, err)
    assert len(err.strip().splitlines()) == 1 and "cut off after" in err and "of 134217728 bytes" in err, err
    assert "Traceback" not in err
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".downloaded")] == []
    assert list(_tmpdir(tmp_path).iterdir()) == []


def _tamper(server: ServerProcess, digest: str) -> None:
    """Change one byte of the stored file, keeping its size (as a disk fault or an intruder would)."""
    path = server.home / "artifacts" / uri_for(digest)
    with path.open("r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_a_blob_changed_on_the_server_is_refused_by_the_client(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path / "server-home") as server:
        large_id, large_digest = _record(server, 3 * MIB, "r1")
        small_id, small_digest = _record(server, 4096, "r2")
        cli_env = server.client_env(tmp_path / "cli-home")
        copy = tmp_path / "copy.bin"
        done = subprocess.run([str(MODELOG), "artifacts", "download", large_id[:12], str(copy)], env=cli_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Downloaded artifact 'big-r1' v1 (3145728 bytes" in done.stdout, done.stderr
        assert _file_digest(copy) == large_digest
        with RemoteRegistry(server.url, token=server.token) as remote:
            assert _digest(iter(remote.open_artifact(large_id))) == large_digest  # intact: read whole
            _tamper(server, large_digest)
            _tamper(server, small_digest)
            # A one-chunk file is checked before the answer starts: the server's own error, one line.
            with pytest.raises(ArtifactIntegrityError, match=r"'big-r2' v1 was modified: expected sha256 "):
                remote.open_artifact(small_id)
            # A larger one is ended short of its Content-Length; every byte before was unchecked, none is used.
            with remote.open_artifact(large_id) as content, pytest.raises(RemoteError, match="cut off after"):
                content.verified_file()
            assert httpx.get(server.url + "/health", timeout=10).status_code == 200  # the server carries on
        # The CLI: one line, exit 1, the earlier copy left as it was.
        done = subprocess.run([str(MODELOG), "artifacts", "download", large_id, str(copy)], env=cli_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and done.stderr.startswith("Error: ") and "cut off after" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
        assert _file_digest(copy) == large_digest
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
        # In process, the same check: the store's file hashed as it is read, refused before anything is loaded.
        with connect(server.db_url, home=server.home) as local, local.open_artifact(large_id) as content, \
                pytest.raises(ArtifactIntegrityError, match="'big-r1' v1 was modified"):
            content.verified_file()
        log = server.log.read_text()
    assert "artifact download cut short" in log
    assert "Traceback" not in log and "unexpected error" not in log, log  # a cut on purpose is not a crash
