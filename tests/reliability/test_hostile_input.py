"""Hostile and bad input over the CLI and the SDK: each case gets a one-line error naming the problem, exit 1
(2 for usage), and the log and every view row are unchanged afterwards.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from modelog.cli.main import cli
from modelog.registry import commands as cmd
from modelog.registry.errors import RegistryError

from modelog import Client
from tests.reliability.hostile_cases import CLI_CASES, LONG_NAME, SDK_CASES, SQL
from tests.reliability.support import snapshot

FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def _seed(registry: Any) -> None:
    registry.commands.execute(cmd.RegisterModel(name="demo"))
    registry.commands.execute(cmd.RegisterModel(name="café"))
    for _ in range(3):
        registry.commands.execute(cmd.CreateVersion(model="demo"))
    registry.commands.execute(cmd.SetStage(model="demo", version=1, stage="production"))


def invoke(url: str, home: Path, args: list[str]) -> Any:
    runner = CliRunner(env={"MODELOG_DATABASE_URL": url, "MODELOG_HOME": str(home)})
    return runner.invoke(cli, args, catch_exceptions=True)


def cli_problem(result: Any, status: int, words: str) -> str | None:
    """Why ``result`` is not a clean refusal with ``status`` naming ``words`` (None if it is)."""
    lines = result.stderr.strip().splitlines()
    if result.exit_code != status:
        return f"exit {result.exit_code}, wanted {status}: {result.output!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"exception escaped: {result.exception!r}"
    if not lines or not lines[-1].startswith("Error: ") or (status == 1 and len(lines) != 1):
        return f"not a one-line error: {result.stderr!r}"
    if words.lower() not in lines[-1].lower() or "Traceback" in result.output or "unexpected" in lines[-1]:
        return f"error does not name the problem ({words!r}): {lines[-1]!r}"
    return None


def test_cli_refuses_bad_input_and_writes_nothing(registry: Any, db_url: str, home: Path) -> None:
    _seed(registry)
    failures = []
    for case, args, status, words in CLI_CASES:
        before = snapshot(db_url)
        problem = cli_problem(invoke(db_url, home, args), status, words)
        if snapshot(db_url) != before:
            problem = f"{problem or ''} and the registry changed"
        if problem:
            failures.append(f"{case}: {problem}")
    assert not failures, "\n".join(failures)
    print(f"\n{len(CLI_CASES)} hostile CLI inputs refused cleanly, log length unchanged at {snapshot(db_url).head}")


def test_sdk_refuses_bad_input_and_writes_nothing(registry: Any, db_url: str, home: Path) -> None:
    _seed(registry)
    failures = []
    with Client(db_url, home=home) as client:
        for case, call, words in SDK_CASES:
            before = snapshot(db_url)
            try:
                eval(call, {"client": client, "LONG_NAME": LONG_NAME, "SQL": SQL, "FUTURE": FUTURE})
                failures.append(f"{case}: accepted")
            except RegistryError as error:
                message = str(error)
                if words.lower() not in message.lower() or "\n" in message:
                    failures.append(f"{case}: unclear error {message!r}")
            except Exception as error:  # noqa: BLE001 - anything outside the tree is a finding
                failures.append(f"{case}: {type(error).__name__} outside the error tree: {error}")
            if snapshot(db_url) != before:
                failures.append(f"{case}: the registry changed")
    assert not failures, "\n".join(failures)


def test_sql_metacharacters_are_only_data(registry: Any, db_url: str, home: Path) -> None:
    """A name full of SQL is stored verbatim (it is a legal name) and LIKE wildcards match only themselves."""
    _seed(registry)
    assert invoke(db_url, home, ["model", "register", "-n", SQL]).exit_code == 0
    assert invoke(db_url, home, ["model", "register", "-n", "100%_sure"]).exit_code == 0
    listed = invoke(db_url, home, ["model", "list", "--name", "%", "-o", "json"])
    names = [m["name"] for m in json.loads(listed.stdout)["items"]] if listed.exit_code == 0 else listed.output
    assert names == ["100%_sure"], names
    assert registry.reads.get_model(SQL).name == SQL and registry.store.verify().ok


def test_corrupted_database_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "registry.db"
    db.write_bytes(b"this is not a database, it is garbage\x00" * 200)
    before = db.read_bytes()
    for args in (["model", "list"], ["model", "register", "-n", "x"], ["log", "verify"]):
        result = invoke(f"sqlite:///{db}", home, args)
        assert cli_problem(result, 1, "not a database") is None, result.output
    assert db.read_bytes() == before


def test_database_from_newer_schema(registry: Any, db_url: str, home: Path) -> None:
    _seed(registry)
    from modelog.registry.database import transaction
    from sqlalchemy import text

    with transaction(registry.engine, write=True) as conn:
        conn.execute(text("UPDATE modelog_schema SET version = 99"))
    before = snapshot(db_url)
    for args in (["model", "list"], ["model", "register", "-n", "newer"]):
        result = invoke(db_url, home, args)
        assert cli_problem(result, 1, "newer than this modelog supports") is None, result.output
    assert snapshot(db_url) == before


def _edits(lines: list[str]) -> dict[str, str]:
    edited = json.loads(lines[3])
    edited["data"]["name"] = "mallory"
    swapped = lines[:2] + [lines[3], lines[2]] + lines[4:]
    return {
        "truncated mid-line": "\n".join(lines)[: len("\n".join(lines)) // 2],
        "edited event": "\n".join(lines[:3] + [json.dumps(edited)] + lines[4:]) + "\n",
        "event dropped": "\n".join(lines[:2] + lines[3:]) + "\n",
        "events swapped": "\n".join(swapped) + "\n",
        "not JSON": "\n".join(lines[:4] + ["{garbage"] + lines[4:]) + "\n",
        "empty line of nulls": "\x00" * 64,
    }


def test_bad_export_file_on_import(registry: Any, db_url: str, home: Path, tmp_path: Path) -> None:
    _seed(registry)
    exported = tmp_path / "good.jsonl"
    assert invoke(db_url, home, ["export", "--log-only", str(exported)]).exit_code == 0
    lines = exported.read_text().splitlines()
    for case, text in _edits(lines).items():
        target = tmp_path / "target"
        target.mkdir(exist_ok=True)
        fresh = f"sqlite:///{target / f'{abs(hash(case))}.db'}"
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        result = invoke(fresh, target, ["import", str(bad)])
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, (case, result.output)
        assert "Traceback" not in result.output and "unexpected" not in result.output, (case, result.output)
        assert snapshot(fresh).head == 0, f"{case}: import left events behind"
    good = invoke(f"sqlite:///{tmp_path / 'ok.db'}", tmp_path, ["import", str(exported)])
    assert good.exit_code == 0, good.output


def test_sqlite_integrity_after_campaign(tmp_path: Path) -> None:
    """Sanity: the garbage file above really is rejected by SQLite itself, not by a name check."""
    path = tmp_path / "g.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT 1 FROM sqlite_master").fetchall()
