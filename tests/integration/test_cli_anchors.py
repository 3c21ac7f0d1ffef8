"""Audit anchors: ``modelog log head`` and ``modelog log verify --anchor`` catch truncation and re-hashed rewrites."""

from __future__ import annotations

import json
from typing import Any

import pytest
from modelog.registry import commands as cmd
from modelog.registry.anchors import Anchor, check_anchors, head_anchor, parse_anchor
from modelog.registry.errors import InvalidInputError
from modelog.registry.guards import install_guards
from modelog.registry.hashing import GENESIS_HASH, chain_hash
from sqlalchemy import text

from tests.cli_support import run


@pytest.fixture
def filled(registry: Any) -> Any:
    """Model demo with two versions (4 events)."""
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    registry.commands.execute(cmd.CreateVersion(model="demo"))
    registry.commands.execute(cmd.CreateVersion(model="demo"))
    return registry


def _unguarded(conn: Any) -> None:
    """Drop the append-only guard, as an attacker with database access could."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER events_no_update"))
        conn.execute(text("DROP TRIGGER events_no_delete"))
    else:
        conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))


def truncate(registry: Any, keep: int, *, cover_up: bool = True) -> None:
    """Delete every event after position ``keep``; ``cover_up``: put the guards back and the checkpoint too."""
    with registry.engine.begin() as conn:
        _unguarded(conn)
        conn.execute(text("DELETE FROM events WHERE position > :p"), {"p": keep})
        install_guards(conn)
        if cover_up:
            conn.execute(text("UPDATE view_checkpoints SET position = :p"), {"p": keep})


def rewrite_and_rehash(registry: Any, position: int) -> None:
    """Edit the event at ``position`` and recompute every hash from there on: the chain verifies again."""
    with registry.engine.begin() as conn:
        _unguarded(conn)
        rows = conn.execute(text("SELECT * FROM events ORDER BY position")).all()
        prev = GENESIS_HASH
        for row in rows:
            data = '{"name":"evil"}' if row.position == position else row.data
            digest = chain_hash(prev, row.position, row.stream_id, row.stream_version, row.event_type,
                                row.schema_version, data, row.meta, row.recorded_at)
            conn.execute(text("UPDATE events SET data = :d, prev_hash = :ph, hash = :h WHERE position = :p"),
                         {"d": data, "ph": prev, "h": digest, "p": row.position})
            prev = digest
        install_guards(conn)  # and leaves the guards as they were


def test_log_head_table_json_and_past(filled: Any) -> None:
    last = filled.store.read_all(from_position=4).__next__()
    table = run("log", "head")
    assert (table.exit_code, table.stdout) == (0, f"Log head: position 4, hash {last.hash}\nAnchor: 4:{last.hash}\n")
    data = json.loads(run("log", "head", "-o", "json").stdout)
    assert data == {"position": 4, "hash": last.hash, "anchor": f"4:{last.hash}"}
    second = filled.store.read_all(from_position=2).__next__()
    assert json.loads(run("log", "head", "--at-position", "2", "-o", "json").stdout)["hash"] == second.hash
    beyond = run("log", "head", "--at-position", "9")
    assert (beyond.exit_code, beyond.stderr) == (
        1, "Error: log position 9 is beyond the end of the log (last position 4)\n")


def test_empty_log_head_is_the_genesis_anchor(registry: Any) -> None:
    assert json.loads(run("log", "head", "-o", "json").stdout)["anchor"] == f"0:{GENESIS_HASH}"
    ok = run("log", "verify", "--anchor", f"0:{GENESIS_HASH}")
    assert (ok.exit_code, ok.stdout) == (0, "Log intact: 0 events, hash chain verified, 1 anchor(s) match.\n")


def test_verify_with_matching_anchors(filled: Any) -> None:
    early, late = head_anchor(filled.store, 2), head_anchor(filled.store)
    ok = run("log", "verify", "--anchor", str(early), "--anchor", str(late).upper())
    assert (ok.exit_code, ok.stdout) == (0, "Log intact: 4 events, hash chain verified, 2 anchor(s) match.\n")


def test_truncated_log_fails_against_an_anchor(filled: Any) -> None:
    anchor = head_anchor(filled.store)
    truncate(filled, 3)  # every trace inside the database covered up
    assert run("log", "verify").exit_code == 0  # the shorter chain is intact on its own: only the anchor tells
    result = run("log", "verify", "--anchor", str(anchor))
    assert (result.exit_code, result.stderr) == (
        1, "Error: anchor at position 4 is beyond the end of the log (last position 3): "
           "the log was truncated since the anchor was taken\n")


def test_rehashed_rewrite_fails_against_an_anchor(filled: Any) -> None:
    early, late = head_anchor(filled.store, 1), head_anchor(filled.store, 4)
    rewrite_and_rehash(filled, 2)
    assert run("log", "verify").exit_code == 0
    result = run("log", "verify", "--anchor", str(late), "--anchor", str(early))
    stored = head_anchor(filled.store, 4).hash
    assert result.exit_code == 1
    assert result.stderr == (f"Error: anchor at position 4 does not match: the log holds hash {stored[:16]}..., "
                             f"the anchor says {late.hash[:16]}...: the log was rewritten since the anchor was taken\n")
    assert check_anchors(filled.store, [early]) is None  # events before the rewrite are untouched


def test_a_broken_chain_is_reported_before_anchors(filled: Any) -> None:
    anchor = head_anchor(filled.store)
    with filled.engine.begin() as conn:
        _unguarded(conn)
        conn.execute(text("UPDATE events SET data = :d WHERE position = 2"), {"d": '{"name":"evil"}'})
    result = run("log", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and result.stderr.startswith("Error: log broken at position 2: ")


@pytest.mark.parametrize("bad", ["", "5", "x:" + "a" * 64, "-1:" + "a" * 64, "5:abc", "5:" + "g" * 64,
                                 "٣:" + "a" * 64])
def test_malformed_anchor_is_a_usage_error(bad: str, registry: Any) -> None:
    result = run("log", "verify", "--anchor", bad)
    assert result.exit_code == 2
    assert "Invalid value for '--anchor'" in result.stderr and "\n" not in result.stderr.strip().splitlines()[-1]
    with pytest.raises(InvalidInputError):
        parse_anchor(bad)


def test_parse_anchor_accepts_what_head_prints() -> None:
    assert parse_anchor(f" 7:{'AB' * 32} ") == Anchor(7, "ab" * 32)
    assert str(Anchor(7, "ab" * 32)) == f"7:{'ab' * 32}"
