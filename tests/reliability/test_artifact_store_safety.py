"""The artifact store under hostile files: an endless device behind a link, a FIFO, a link out of the store;
files created with the process's umask; ``put_stream`` verifies while it streams; ``clean`` cleans the configured
store, not only ``<home>/artifacts``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelog.registry.artifact_store import ArtifactStore, content_hash
from modelog.registry.errors import ArtifactIntegrityError
from sqlalchemy.engine import make_url

from modelog import Client
from tests.cli_support import run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def umask() -> Iterator[None]:
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def _stored(store: ArtifactStore, data: bytes = b"payload") -> tuple[str, str, Path]:
    blob = store.put(data)
    return blob.uri, blob.content_hash, store.path_for(blob.uri)


def test_a_link_to_an_endless_device_is_refused_without_reading_it(store: ArtifactStore) -> None:
    uri, digest, path = _stored(store)
    path.unlink()
    path.symlink_to("/dev/zero")
    assert store.check(uri, digest) == "outside-store"
    with pytest.raises(ArtifactIntegrityError, match="leaves the store"):
        store.get(uri, digest, label="'x' v1")


def test_an_endless_device_inside_the_store_is_refused_under_a_memory_limit(tmp_path: Path) -> None:
    """A child with a 512 MiB address-space limit: reading /dev/zero whole would die, refusing does not."""
    code = (
        "import os, resource, sys\n"
        "from pathlib import Path\n"
        "from modelog.registry.artifact_store import ArtifactStore\n"
        "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
        "store = ArtifactStore(Path(sys.argv[1]))\n"
        "blob = store.put(b'payload')\n"
        "path = store.path_for(blob.uri)\n"
        "path.unlink()\n"
        "os.symlink('/dev/zero', path)\n"
        "os.symlink('/dev/zero', store.root / 'zero')\n"
        "path.unlink()\n"
        "os.symlink(store.root / 'zero', path)\n"  # a link inside the store to a link out of it
        "print(store.check(blob.uri, blob.content_hash))\n"
        "os.unlink(store.root / 'zero')\n"
        "os.mknod(store.root / 'zero', 0o600 | __import__('stat').S_IFCHR, os.makedev(1, 5))\n"
        "print(store.check(blob.uri, blob.content_hash))\n"
        "try:\n"
        "    store.get(blob.uri, blob.content_hash, label='x')\n"
        "except Exception as error:\n"
        "    print(type(error).__name__)\n"
    )
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["outside-store", "not-a-file", "ArtifactIntegrityError"]


def test_a_fifo_in_the_store_is_refused_without_blocking(store: ArtifactStore) -> None:
    uri, digest, path = _stored(store)
    path.unlink()
    os.mkfifo(path)
    assert store.check(uri, digest) == "not-a-file"
    with pytest.raises(ArtifactIntegrityError, match="not a regular file"):
        store.get(uri, digest, label="'x' v1")
    assert store.put(b"payload").uri == uri and path.is_file()  # put replaces it with the real content
    assert store.get(uri, digest, label="'x' v1") == b"payload"


def test_a_link_that_stays_inside_the_store_is_followed_and_verified(store: ArtifactStore) -> None:
    uri, digest, path = _stored(store)
    other = store.root / "elsewhere"
    other.write_bytes(b"payload")
    path.unlink()
    path.symlink_to(other)
    assert store.check(uri, digest) == "ok" and store.get(uri, digest, label="x") == b"payload"
    other.write_bytes(b"changed")
    assert store.check(uri, digest) == "corrupt"


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_are_created_with_the_umask(store: ArtifactStore, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)
    _, _, path = _stored(store, f"content {mask}".encode())
    assert path.stat().st_mode & 0o777 == mode
    with (store.root / "input").open("wb") as source:
        source.write(b"streamed")
    with (store.root / "input").open("rb") as source:
        assert store.put_stream(source, 8, content_hash(b"streamed"), label="s")
    assert store.path_for(f"sha256/{content_hash(b'streamed')[:2]}/{content_hash(b'streamed')}").stat().st_mode \
        & 0o777 == mode


def test_put_stream_verifies_while_streaming_and_leaves_nothing_on_a_mismatch(store: ArtifactStore,
                                                                              tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(b"a" * (3 << 20))
    wrong = content_hash(b"something else")
    with source.open("rb") as handle, pytest.raises(ArtifactIntegrityError, match="does not match its hash"):
        store.put_stream(handle, 3 << 20, wrong, label="'big'")
    assert [p for p in store.root.rglob("*") if p.is_file()] == []  # no file, no temporary left behind
    with source.open("rb") as handle:
        assert store.put_stream(handle, 3 << 20, content_hash(source.read_bytes()), label="'big'") is True


def test_clean_cleans_the_configured_store(db_url: str, home: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "configured-store"
    monkeypatch.setenv("MODELOG_ARTIFACT_STORE", str(shared))
    monkeypatch.setenv("MODELOG_DATABASE_URL", db_url)
    with Client(db_url, home=home) as client:
        client.api.store_blob(b"left behind")
    assert list(shared.glob("sha256/*/*")) and not (home / "artifacts").exists()
    confirm = ["-y"] if db_url.startswith("sqlite") else ["--database-name", str(make_url(db_url).database)]
    wiped = run("clean", "--no-backup", *confirm)
    assert wiped.exit_code == 0, wiped.output
    assert str(shared) in wiped.stdout
    assert not shared.exists()
