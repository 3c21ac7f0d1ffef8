"""Issue 12.2: verification is read-only and reports removal and unguarded logs; writes refuse them.

The attack of the campaign: drop the append-only triggers, delete the log's tail, put the triggers
back. Before, ``modelog log verify`` printed "Log intact" and moved the projection checkpoint back to
the shortened log's end: the only trace of the truncation was erased by the audit command itself.
Now every check (``log verify``, ``projections verify``, ``db status``) only reads, and reports the
checkpoint and the view rows that point past the log's end; every write refuses until an operator
runs ``projections rebuild``. A guard dropped or disabled is reported the same way and refused by
writes until ``modelog db upgrade`` reinstalls it.
"""

from __future__ import annotations

from typing import Any

from modelog.registry import commands as cmd
from modelog.registry.guards import install_guards
from sqlalchemy import text

from tests.cli_support import run
from tests.integration.store_support import drop_guards_on


def _fill(registry: Any) -> int:
    run_ = registry.commands.execute
    run_(cmd.RegisterModel(name="demo"))
    for _ in range(3):
        run_(cmd.CreateVersion(model="demo"))
    run_(cmd.LinkArtifact(model="demo", version=3, pipeline="p", step="s", name="preds", kind="data",
                          artifact_id="a1", artifact_name="preds", content_hash="h1"))
    return int(registry.store.head())


def _checkpoint(registry: Any) -> int:
    with registry.engine.connect() as conn:
        return int(conn.execute(text("SELECT position FROM view_checkpoints")).scalar_one())


def _truncate(registry: Any, keep: int) -> None:
    with registry.engine.begin() as conn:
        drop_guards_on(conn)
        conn.execute(text("DELETE FROM events WHERE position > :p"), {"p": keep})
        install_guards(conn)  # the careful attacker puts the triggers back


def _one_error_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return str(lines[0])


def test_a_truncated_tail_is_reported_and_the_evidence_survives_every_check(registry: Any) -> None:
    head = _fill(registry)
    keep = head - 2  # the link and the last version are gone from the log
    _truncate(registry, keep)
    for _ in range(2):  # verifying twice: the first run must not have erased what the second reports
        line = _one_error_line(run("log", "verify"))
        assert line == (f"Error: tampering suspected: the read models' checkpoint is at position {head} but the log "
                        f"ends at position {keep}; view_artifact_links records log position {head} but the log ends "
                        f"at position {keep}")
        assert _checkpoint(registry) == head
    assert run("projections", "verify").exit_code == 1
    status = run("db", "status")
    assert f"checkpoint is at position {head}" in status.stdout and status.exit_code == 1
    assert _checkpoint(registry) == head

    listed = run("model", "version", "list", "demo", "-o", "json")  # reads answer from the log meanwhile
    assert listed.exit_code == 0 and listed.stdout.count('"number"') == 2
    refused = _one_error_line(run("model", "update", "demo", "-d", "after"))
    assert "tampering suspected" in refused and "modelog projections rebuild" in refused
    assert (registry.store.head(), _checkpoint(registry)) == (keep, head)

    assert run("projections", "rebuild").exit_code == 0  # the operator accepts the log as it now is
    assert run("log", "verify").exit_code == 0 and _checkpoint(registry) == keep
    assert run("model", "update", "demo", "-d", "after").exit_code == 0


def test_a_dropped_or_disabled_guard_is_reported_and_refuses_writes(registry: Any, backend: str) -> None:
    _fill(registry)
    head = registry.store.head()
    weaken = ("ALTER TABLE events DISABLE TRIGGER events_no_change" if backend == "postgres"
              else "DROP TRIGGER events_no_delete")
    trigger = "events_no_change" if backend == "postgres" else "events_no_delete"
    with registry.engine.begin() as conn:
        conn.execute(text(weaken))
    line = _one_error_line(run("log", "verify"))
    assert line.startswith("Error: tampering suspected: the guard against ") and trigger in line
    assert ("disabled" if backend == "postgres" else "missing") in line
    status = run("db", "status", "-o", "json")
    assert status.exit_code == 1 and trigger in status.stdout
    refused = _one_error_line(run("model", "register", "-n", "other"))
    assert "guards are not intact" in refused and "modelog db upgrade" in refused
    assert registry.store.head() == head

    assert run("db", "upgrade").exit_code == 0
    assert run("log", "verify").exit_code == 0 and run("db", "status").exit_code == 0
    assert run("model", "register", "-n", "other").exit_code == 0
