"""``modelog log``, ``export``/``import``, ``projections``, ``clean``, ``db`` and ``integration`` via CliRunner."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from modelog.registry import commands as cmd
from sqlalchemy import text

from tests.cli_support import run


@pytest.fixture
def filled(registry: Any) -> Any:
    """A registry holding model demo with one version (5 events)."""
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    registry.commands.execute(cmd.CreateVersion(model="demo"))
    registry.commands.execute(cmd.UpdateModel(model="demo", add_tags=("t",)))
    return registry


def events_in(file: Path) -> int:
    """How many exported events a JSON Lines file holds (other lines, such as an end marker, are not events)."""
    return sum(1 for line in file.read_text().splitlines() if "position" in json.loads(line))


def tamper(registry: Any, position: int) -> None:
    """Edit one stored event behind the append-only guard's back (as an attacker with DB access could)."""
    with registry.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER events_no_update"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE events SET data = :d WHERE position = :p"), {"d": '{"name":"evil"}', "p": position})


def test_log_show_table_and_json(filled: Any) -> None:
    table = run("log", "show", "--limit", "2")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["POSITION", "TIME", "STREAM", "EVENT", "ACTOR", "SUMMARY"]
    assert lines[1].split()[2:] == ["name-demo", "ModelNameClaimed", "tester", "name", "'demo'", "claimed"]
    assert len(lines) == 3
    data = json.loads(run("log", "show", "--from-position", "3", "-o", "json").stdout)
    assert [e["position"] for e in data] == [3, 4]
    assert set(data[0]) == {"position", "stream_id", "stream_version", "event_type", "schema_version", "data",
                            "meta", "recorded_at", "prev_hash", "hash"}
    past = json.loads(run("log", "show", "--at-position", "2", "-o", "json").stdout)
    assert [e["position"] for e in past] == [1, 2]
    only = json.loads(run("log", "show", "--stream", "name-demo", "-o", "json").stdout)
    assert [e["event_type"] for e in only] == ["ModelNameClaimed"]


def test_log_verify_intact_and_broken(filled: Any) -> None:
    ok = run("log", "verify")
    assert (ok.exit_code, ok.stdout) == (0, "Log intact: 4 events, hash chain verified.\n")
    tamper(filled, 2)
    broken = run("log", "verify")
    assert broken.exit_code == 1
    assert broken.stderr == ("Error: log broken at position 2: stored hash does not match the event's contents "
                             "(1 events before it are intact)\n")


def test_export_then_import_into_an_empty_registry(filled: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "log.jsonl"
    exported = run("export", "--log-only", str(file))
    assert (exported.exit_code, exported.stdout) == (0, f"Exported 4 events to {file} (log only: no artifact files).\n")
    assert events_in(file) == 4
    again = run("export", str(file))
    assert (again.exit_code, again.stderr) == (1, f"Error: {file} already exists; pass --force to overwrite it\n")
    refused = run("import", str(file))
    assert (refused.exit_code, refused.stderr) == (
        1, "Error: the registry is not empty; import only into a new registry\n")
    monkeypatch.setenv("MODELOG_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    imported = run("import", str(file))
    assert (imported.exit_code, imported.stdout) == (0, f"Imported 4 events from {file}; hash chain verified.\n")
    assert json.loads(run("model", "list", "-o", "json").stdout)["items"][0]["tags"] == ["t"]


def test_import_of_an_edited_file_imports_nothing(filled: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "log.jsonl"
    run("export", "--log-only", str(file))
    lines = file.read_text().splitlines()
    assert '"name":"demo"' in lines[1]
    lines[1] = lines[1].replace('"name":"demo"', '"name":"evil"')
    file.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("MODELOG_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    result = run("import", str(file))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: line 2 (position 2): ") and "nothing was imported" in result.stderr
    assert run("log", "verify").stdout == "Log intact: 0 events, hash chain verified.\n"


def test_projections_rebuild_and_verify(filled: Any) -> None:
    rebuilt = run("projections", "rebuild")
    assert rebuilt.exit_code == 0
    assert re.fullmatch(r"Rebuilt the read models from 4 events in \d+\.\d\ds \([\d,]+ events/s\)\.\n",
                        rebuilt.stdout)
    verified = run("projections", "verify")
    assert (verified.exit_code, verified.stdout) == (
        0, "Read models match a fresh replay of the log (up to position 4).\n")


def test_projections_verify_reports_a_drifted_view(filled: Any) -> None:
    with filled.engine.begin() as conn:
        conn.execute(text("UPDATE view_models SET description = 'drift'"))
    result = run("projections", "verify")
    assert result.exit_code == 1
    assert "view_models: live" in result.stderr
    assert result.stderr.splitlines()[-1] == ("Error: read models differ from a fresh replay of the log "
                                              "(1 difference(s) above); run 'modelog projections rebuild'")
    assert run("projections", "rebuild").exit_code == 0
    assert run("projections", "verify").exit_code == 0


def test_clean_refuses_without_confirmation_then_wipes_with_a_backup(filled: Any, home: Path, backend: str) -> None:
    (home / "artifacts").mkdir(parents=True, exist_ok=True)
    (home / "artifacts" / "blob").write_text("x")
    refused = run("clean")
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: refusing to wipe ")
    assert filled.store.head() == 4
    confirmation = ("-y",) if backend == "sqlite" else ("--database-name", str(filled.engine.url.database))
    filled.close()
    wiped = run("clean", *confirmation)
    assert wiped.exit_code == 0, wiped.output
    backups = list((home / "backups").glob("modelog-*.tar"))
    assert len(backups) == 1 and tarfile.is_tarfile(backups[0])
    assert wiped.stdout.splitlines()[0] == (f"Backup of 4 events and 0 artifact files written to {backups[0]} "
                                            f"(restore with: modelog import {backups[0]}).")
    assert wiped.stdout.splitlines()[1].startswith("Registry wiped (")
    assert not (home / "artifacts").exists()
    assert run("model", "list").stdout == "No models found.\n"
    assert run("import", str(backups[0])).exit_code == 0
    assert run("model", "list", "-o", "json").stdout.count('"name": "demo"') == 1


def test_clean_of_a_server_database_needs_its_name(filled: Any, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("server databases only")
    name = str(filled.engine.url.database)
    for args in ((), ("-y",), ("-y", "--no-backup")):
        result = run("clean", *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("Error: refusing to wipe the database postgresql+psycopg://")
        assert f"--database-name {name} to confirm (-y is not enough" in result.stderr
    wrong = run("clean", "--database-name", "registry", "--no-backup")
    assert (wrong.exit_code, wrong.stderr) == (1, f"Error: the database is named {name!r}, not 'registry'; "
                                                  "nothing was wiped\n")
    assert filled.store.head() == 4
    filled.close()
    wiped = run("clean", "--database-name", name, "--no-backup")
    assert wiped.exit_code == 0
    assert "table events" not in wiped.stdout  # the summary counts, it does not list
    with filled.engine.connect() as conn:
        left = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).all()
        functions = conn.execute(text("SELECT proname FROM pg_proc WHERE proname LIKE 'modelog%'")).all()
    filled.engine.dispose()
    assert left == [] and functions == []


def test_clean_with_nothing_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELOG_DATABASE_URL", raising=False)
    monkeypatch.setenv("MODELOG_HOME", str(tmp_path / "empty"))
    result = run("clean", "-y")
    expected = f"Nothing to clean: there is no registry in {tmp_path / 'empty'}.\n"
    assert (result.exit_code, result.stdout) == (0, expected)


def test_integration_list_and_install_when_already_installed(tmp_path: Path) -> None:
    listing = run("integration", "list")
    assert listing.exit_code == 0
    assert listing.stdout.splitlines()[1].split()[:2] == ["sklearn", "yes"]
    result = run("integration", "install", "sklearn", "-y")
    assert (result.exit_code, result.stdout) == (
        0, "Integration 'sklearn' is already installed (scikit-learn>=1.3, pandas>=2.0, joblib>=1.3).\n")
    unknown = run("integration", "install", "torch", "-y")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: unknown integration 'torch'; integrations: sklearn\n")


def test_db_status_and_upgrade(filled: Any) -> None:
    status = json.loads(run("db", "status", "-o", "json").stdout)
    assert status["state"] == "current" and status["head"] == 4
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0
    assert upgraded.stdout.startswith("Database schema is already at version ")
