"""Full disk, read-only database and a lock held beyond the busy timeout, on real files.

We run as root, which ignores file permissions, so ``chmod 0444`` proves nothing. Instead the
registry lives on its own size-limited tmpfs (``mount -t tmpfs -o size=...``): filling it gives a
real ENOSPC, and ``mount -o remount,ro`` makes it really read-only. Without permission to mount
these tests skip (saying why).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelog.application.bootstrap import open_registry
from modelog.projections.projector import ViewProjector
from modelog.registry import commands as cmd
from modelog.registry.database import create_engine_for
from modelog.registry.errors import StorageError
from modelog.registry.service import CommandService
from modelog.registry.store import EventStore

from tests.reliability.support import check_log_and_views, mount, snapshot, tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of its own."""
    with tmpfs(tmp_path / "disk", "1m", "full disks") as where:
        yield where


def _integrity_ok(db: Path) -> bool:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_full_disk_gives_clear_error_and_no_corruption(small_disk: Path) -> None:
    url = f"sqlite:///{small_disk / 'registry.db'}"
    registry = open_registry(url, home=small_disk)
    written, padding = 0, "x" * 4000
    with pytest.raises(StorageError) as refused:
        for written in range(1000):  # noqa: B007 - the count is reported below
            before = snapshot(url)
            registry.commands.execute(cmd.RegisterModel(name=f"full-{written}", fields={"description": padding}))
    message = str(refused.value)
    assert "disk is full" in message and "\n" not in message, message
    assert snapshot(url) == before, "the refused command left a trace"
    checked, problems = check_log_and_views(url)
    assert problems == [] and checked == before.head
    mount("-o", "remount,size=16m", str(small_disk))  # space freed: the same command now succeeds
    registry.commands.execute(cmd.RegisterModel(name=f"full-{written}", fields={"description": padding}))
    registry.close()
    assert _integrity_ok(small_disk / "registry.db")
    assert check_log_and_views(url)[1] == []
    print(f"\nfull disk: {written} commands fitted, command {written + 1} refused cleanly, {checked} events intact")


def test_read_only_database_fails_clearly_and_is_untouched(small_disk: Path) -> None:
    """On a read-only mount a write-ahead-log database cannot even be opened (SQLite must create its -shm file).

    The registry says so in one line and changes nothing; once writable again everything works.
    """
    url = f"sqlite:///{small_disk / 'registry.db'}"
    with open_registry(url, home=small_disk) as registry:
        registry.commands.execute(cmd.RegisterModel(name="frozen"))
        registry.commands.execute(cmd.CreateVersion(model="frozen"))
    before = snapshot(url)
    mount("-o", "remount,ro", str(small_disk))
    with pytest.raises(OSError):
        (small_disk / "probe").write_text("x")  # really read-only, even for root
    with pytest.raises(StorageError, match="unable to open database file|readonly database|read-only fi") as refused, \
            open_registry(url, home=small_disk) as registry:
        registry.commands.execute(cmd.CreateVersion(model="frozen"))
    assert "\n" not in str(refused.value)
    mount("-o", "remount,rw", str(small_disk))
    assert snapshot(url) == before
    with open_registry(url, home=small_disk) as registry:
        registry.commands.execute(cmd.CreateVersion(model="frozen"))
    assert check_log_and_views(url)[1] == [] and _integrity_ok(small_disk / "registry.db")


def test_lock_held_beyond_busy_timeout(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock longer than the busy timeout: clear error, then success."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    open_registry(url).close()
    holder = sqlite3.connect(tmp_path / "registry.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine_for(url, busy_timeout_ms=200)
    service = CommandService(EventStore(engine, [ViewProjector()]), actor="impatient", attempts=2)
    try:
        before = snapshot(url)
        with pytest.raises(StorageError, match="database is locked"):
            service.execute(cmd.RegisterModel(name="waiting"))
        assert snapshot(url) == before
        holder.execute("ROLLBACK")
        service.execute(cmd.RegisterModel(name="waiting"))
    finally:
        holder.close()
        engine.dispose()
    assert check_log_and_views(url)[1] == []
