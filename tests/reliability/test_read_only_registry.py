"""A registry on a read-only mount (an auditor's copy): every read command works, every write fails in one line.

As root, file permissions do not stop writes, so the registry lives on its own tmpfs that is
remounted read-only (``mount -o remount,ro``). Without permission to mount these tests skip.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelog.application.bootstrap import open_reader, open_registry
from modelog.registry import commands as cmd
from modelog.registry.errors import StorageError
from modelog.registry.read_only import read_only_reason, read_only_uri
from modelog.registry.service import CommandService
from modelog.registry.store import EventStore, NewEvent

from tests.cli_support import run
from tests.reliability.support import REPO, check_log_and_views, mount, subprocess_env, tmpfs

READS = [
    ("model", "list"),
    ("model", "list", "-o", "json"),
    ("model", "version", "list", "demo"),
    ("model", "version", "artifacts", "demo", "1"),
    ("model", "history", "demo", "--runs"),
    ("model", "list", "--at-position", "2", "-o", "json"),
    ("log", "show"),
    ("log", "verify"),
    ("log", "head", "-o", "json"),
    ("run", "list"),
    ("run", "show", "r1", "-o", "json"),
    ("projections", "verify"),
]
WRITES = [
    ("model", "register", "-n", "other"),
    ("model", "update", "demo", "-d", "changed"),
    ("model", "version", "update", "demo", "1", "-s", "production"),
    ("model", "delete", "demo", "-y"),
    ("run", "fail", "r1", "-y"),
    ("projections", "rebuild"),
]


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tmpfs of its own, where MODELOG_DATABASE_URL points."""
    with tmpfs(tmp_path / "disk", "8m", "read-only registries") as where:
        monkeypatch.setenv("MODELOG_DATABASE_URL", f"sqlite:///{where / 'registry.db'}")
        monkeypatch.setenv("MODELOG_HOME", str(where))
        yield where


def fill(url: str) -> None:
    """Model demo, version 1 with a dataset, and run r1 (running) that created version 2."""
    with open_registry(url) as registry:
        execute = registry.commands.execute
        execute(cmd.RegisterModel(name="demo", fields={"description": "audited"}))
        execute(cmd.CreateVersion(model="demo"))
        execute(cmd.LinkArtifact(model="demo", version=1, pipeline="p", step="s", name="data", kind="data",
                                 artifact_id="a1", artifact_name="data", content_hash="0" * 64))
        execute(cmd.StartRun(run_id="r1", pipeline="p", model=cmd.ModelContext(name="demo", create_new_version=True)))


def outputs(commands: list[tuple[str, ...]]) -> list[tuple[int, str]]:
    """Exit code and stdout of each command."""
    return [(result.exit_code, result.stdout) for result in (run(*c) for c in commands)]


def remount_read_only(where: Path) -> None:
    """Make ``where`` really read-only, even for root."""
    mount("-o", "remount,ro", str(where))
    with pytest.raises(OSError):
        (where / "probe").write_text("x")


def test_reads_answer_as_before_and_writes_fail_in_one_line(disk: Path) -> None:
    url = f"sqlite:///{disk / 'registry.db'}"
    fill(url)
    before = outputs(READS)
    assert all(code == 0 for code, _ in before), before
    remount_read_only(disk)
    assert read_only_reason(url) == f"the registry database {disk / 'registry.db'} is on a read-only file system"
    assert outputs(READS) == before
    expected = (f"Error: cannot write to the registry: the registry database {disk / 'registry.db'} is on a "
                "read-only file system; it can only be read\n")
    for command in WRITES:
        result = run(*command)
        assert (result.exit_code, result.stderr) == (1, expected), command
    mount("-o", "remount,rw", str(disk))
    assert check_log_and_views(url) == (7, [])
    assert outputs(READS) == before  # nothing was written by any of the refused commands


def test_export_from_a_read_only_registry_and_refused_import(disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{disk / 'registry.db'}"
    fill(url)
    remount_read_only(disk)
    exported = run("export", "--log-only", str(tmp_path / "copy.jsonl"))
    assert (exported.exit_code, exported.stdout) == (
        0, f"Exported 7 events to {tmp_path / 'copy.jsonl'} (log only: no artifact files).\n")
    bundle = run("export", str(tmp_path / "copy.tar"))
    assert bundle.exit_code == 0 and bundle.stdout.startswith("Exported 7 events and "), bundle.output
    refused = run("import", str(tmp_path / "copy.jsonl"))
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: cannot write to the registry: ")
    status = json.loads(run("db", "status", "-o", "json").stdout)
    assert (status["state"], status["head"]) == ("current", 7)


def test_sdk_reader_opens_read_only_and_registry_refuses(disk: Path) -> None:
    url = f"sqlite:///{disk / 'registry.db'}"
    fill(url)
    remount_read_only(disk)
    with open_reader(url) as reader:
        assert [m.name for m in reader.reads.list_models().items] == ["demo"]
        assert reader.store.verify().ok
        with pytest.raises(StorageError, match="readonly database"):
            reader.store.append("x-1", 0, [NewEvent("Probe", 1, {})])  # the engine itself cannot write
    with pytest.raises(StorageError, match="^cannot write to the registry: .* read-only file system"):
        open_registry(url)


def test_lagging_read_models_are_replayed_not_served_stale(disk: Path) -> None:
    """Events appended without their projection (as by a crash between log and views): reads replay the log."""
    url = f"sqlite:///{disk / 'registry.db'}"
    fill(url)
    with open_registry(url) as registry:
        bare = CommandService(EventStore(registry.engine), actor="bare")  # no projector: views fall behind
        bare.execute(cmd.RegisterModel(name="late"))
    remount_read_only(disk)
    listed = json.loads(run("model", "list", "-o", "json").stdout)
    assert [m["name"] for m in listed["items"]] == ["demo", "late"]
    assert json.loads(run("log", "head", "-o", "json").stdout)["position"] == 9
    lagging = run("projections", "verify")
    assert lagging.exit_code == 1 and "checkpoint is at position 7 but the log ends at 9" in lagging.stderr


def test_copy_with_uncheckpointed_wal_is_read_in_full(disk: Path, tmp_path: Path) -> None:
    """An auditor copies registry.db with its -wal and -shm files while a writer is active."""
    source = tmp_path / "live" / "registry.db"
    fill(f"sqlite:///{source}")
    holder = sqlite3.connect(source)  # keeps the -wal file from being checkpointed away
    try:
        holder.execute("SELECT count(*) FROM events").fetchone()
        with open_registry(f"sqlite:///{source}") as registry:
            registry.commands.execute(cmd.RegisterModel(name="in-wal"))
        assert Path(f"{source}-wal").stat().st_size > 0
        for suffix in ("", "-wal", "-shm"):
            shutil.copyfile(f"{source}{suffix}", disk / f"registry.db{suffix}")
    finally:
        holder.close()
    remount_read_only(disk)
    assert read_only_uri(disk / "registry.db").endswith("?mode=ro")
    listed = json.loads(run("model", "list", "-o", "json").stdout)
    assert [m["name"] for m in listed["items"]] == ["demo", "in-wal"]
    assert run("log", "verify").stdout == "Log intact: 9 events, hash chain verified.\n"


def test_wal_without_shm_is_refused_rather_than_read_stale(disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{disk / 'registry.db'}"
    fill(url)
    (disk / "registry.db-wal").write_bytes(b"x" * 100)
    remount_read_only(disk)
    result = run("model", "list")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: the registry database {disk / 'registry.db'} has un-checkpointed changes in "
                             "registry.db-wal but no registry.db-shm file, and its directory is read-only; copy the "
                             "three files somewhere writable\n")


def test_a_real_process_reads_a_read_only_registry(disk: Path) -> None:
    fill(f"sqlite:///{disk / 'registry.db'}")
    remount_read_only(disk)
    env = subprocess_env(MODELOG_DATABASE_URL=f"sqlite:///{disk / 'registry.db'}")
    done = subprocess.run([sys.executable, "-m", "modelog.cli.main", "model", "version", "list", "demo", "-o", "json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [v["number"] for v in json.loads(done.stdout)] == [1, 2]
    written = subprocess.run([sys.executable, "-m", "modelog.cli.main", "model", "register", "-n", "x"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert written.returncode == 1 and written.stderr.count("\n") == 1 and "read-only file system" in written.stderr

