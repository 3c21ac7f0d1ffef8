"""Tamper evidence end to end: someone drops the append-only triggers and edits, deletes, inserts or reorders
rows of the log directly; ``modelog log verify`` exits 1 naming the first bad position.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.database import transaction
from modelog.registry.errors import StorageError
from modelog.registry.hashing import chain_hash
from sqlalchemy import text
from sqlalchemy.engine import Connection

from tests.integration.store_support import drop_guards_on
from tests.reliability.support import REPO, subprocess_env

TARGET = 7  # the position the attacker goes for


def modelog(*args: str, url: str, home: Any) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process against ``url``."""
    env = subprocess_env(MODELOG_DATABASE_URL=url, MODELOG_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "modelog.cli.main", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120)


def _row(conn: Connection, position: int) -> Any:
    return conn.execute(text("SELECT * FROM events WHERE position = :p"), {"p": position}).one()


def _move(conn: Connection, old: int, new: int) -> None:
    conn.execute(text("UPDATE events SET position = :new WHERE position = :old"), {"new": new, "old": old})


def edit_data(conn: Connection) -> int:
    row = _row(conn, TARGET)
    data = json.loads(row.data)
    data["tampered"] = True
    conn.execute(text("UPDATE events SET data = :d WHERE position = :p"), {"d": json.dumps(data), "p": TARGET})
    return TARGET


def edit_and_rehash(conn: Connection) -> int:
    """A careful attacker also recomputes the edited event's own hash: the next link breaks."""
    row = _row(conn, TARGET)
    meta = json.loads(row.meta)
    meta["actor"] = "mallory"
    meta_text = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    digest = chain_hash(row.prev_hash, row.position, row.stream_id, row.stream_version, row.event_type,
                        row.schema_version, row.data, meta_text, row.recorded_at)
    conn.execute(text("UPDATE events SET meta = :m, hash = :h WHERE position = :p"),
                 {"m": meta_text, "h": digest, "p": TARGET})
    return TARGET + 1


def delete_row(conn: Connection) -> int:
    conn.execute(text("DELETE FROM events WHERE position = :p"), {"p": TARGET})
    return TARGET


def delete_near_end(conn: Connection) -> int:
    """The event before the newest one (deleting the newest itself is invisible to a chain without an anchor)."""
    head = conn.execute(text("SELECT max(position) FROM events")).scalar_one()
    conn.execute(text("DELETE FROM events WHERE position = :p"), {"p": head - 1})
    return head - 1


def insert_forged(conn: Connection) -> int:
    """Shift the tail up one place and slip a forged event (with a correct-looking hash) in at TARGET."""
    head = conn.execute(text("SELECT max(position) FROM events")).scalar_one()
    for position in range(head, TARGET - 1, -1):
        _move(conn, position, position + 1)
    prev = _row(conn, TARGET - 1)
    data = json.dumps({"number": 1, "from_stage": "none", "to_stage": "production"})
    digest = chain_hash(prev.hash, TARGET, "model-forged", 99, "ModelVersionStageChanged", 1, data, "{}",
                        prev.recorded_at)
    conn.execute(text(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, data, meta, "
        "recorded_at, prev_hash, hash) VALUES (:p, 'model-forged', 99, 'ModelVersionStageChanged', 1, :d, '{}', "
        ":t, :prev, :h)"), {"p": TARGET, "d": data, "t": prev.recorded_at, "prev": prev.hash, "h": digest})
    return TARGET + 1


def reorder(conn: Connection) -> int:
    _move(conn, TARGET, -1)
    _move(conn, TARGET + 1, TARGET)
    _move(conn, -1, TARGET + 1)
    return TARGET


TAMPERS = {f.__name__: f for f in (edit_data, edit_and_rehash, delete_row, delete_near_end, insert_forged, reorder)}


def _populate(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="victim"))
    for _ in range(4):
        registry.commands.execute(cmd.CreateVersion(model="victim"))
    registry.commands.execute(cmd.SetStage(model="victim", version=2, stage="production"))
    registry.commands.execute(cmd.SetStage(model="victim", version=3, stage="production", force=True))
    registry.commands.execute(cmd.SetAlias(model="victim", version=4, alias="next"))


def test_triggers_refuse_changes(registry: Any) -> None:
    _populate(registry)
    for statement in ("UPDATE events SET data = '{}' WHERE position = 1", "DELETE FROM events WHERE position = 1"):
        with pytest.raises(StorageError, match="append-only"), transaction(registry.engine, write=True) as conn:
            conn.exec_driver_sql(statement)
    assert registry.store.verify().ok


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_log_verify_names_first_bad_position(registry: Any, db_url: str, home: Any, tamper: str) -> None:
    _populate(registry)
    if tamper == "edit_data":
        intact = modelog("log", "verify", url=db_url, home=home)
        assert intact.returncode == 0 and "Log intact" in intact.stdout, intact.stderr
    with transaction(registry.engine, write=True) as conn:
        drop_guards_on(conn)
        bad = TAMPERS[tamper](conn)
    report = registry.store.verify()
    assert report.first_bad_position == bad, report
    broken = modelog("log", "verify", url=db_url, home=home)
    assert broken.returncode == 1, broken
    assert f"log broken at position {bad}:" in broken.stderr and broken.stderr.count("\n") == 1, broken.stderr
    assert "Traceback" not in broken.stderr
