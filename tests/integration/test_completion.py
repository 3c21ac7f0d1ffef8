"""Shell completion that knows the registry, through click's completion protocol, on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from modelog.application.local import LocalRegistry
from modelog.cli.main import cli
from modelog.projections import tables as t
from modelog.projections.completion_sql import like_prefix

ROOT = Path(__file__).resolve().parents[2]


def complete(line: str) -> list[str]:
    """What bash would offer for ``line`` (the word being completed last; a trailing space: a new word)."""
    words = line.split(" ")
    env = {"_MODELOG_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    done = CliRunner().invoke(cli, [], env=env, prog_name="modelog")
    return [row.split(",", 1)[1] for row in done.stdout.splitlines() if row.startswith("plain,")]


@pytest.fixture
def filled(registry: Any) -> Any:
    api = LocalRegistry.over(registry)
    for name in ("churn", "chess", "Chat_bot", "other"):
        api.register_model(name)
    for _ in range(3):
        api.create_version("churn")
    api.update_version("churn", 2, stage="production", name="winter", set_aliases=["champion"])
    api.start_run("5ba887e3-0001", "train")
    api.start_run("77aa0000-0002", "train")
    return registry


def test_model_names_complete_by_prefix_case_insensitively(filled: Any) -> None:
    assert complete("modelog model show ch") == ["Chat_bot", "chess", "churn"]
    assert complete("modelog model version list CHU") == ["churn"]
    assert complete("modelog model show Chat_") == ["Chat_bot"]  # _ is not a wildcard
    assert complete("modelog model show zz") == []


def test_version_selectors_complete_numbers_names_stages_latest_and_aliases(filled: Any) -> None:
    assert complete("modelog model version show churn ") == ["1", "2", "3", "winter", "production", "latest",
                                                             "@champion"]
    assert complete("modelog model version update churn @") == ["@champion"]
    assert complete("modelog model version compare churn 1 p") == ["production"]
    assert complete("modelog model version show nope ") == []


def test_run_ids_complete_from_their_prefix(filled: Any) -> None:
    assert complete("modelog run show 5b") == ["5ba887e3-0001"]
    assert sorted(complete("modelog run show ")) == ["5ba887e3-0001", "77aa0000-0002"]


def test_completion_reads_the_tables_the_read_models_define() -> None:
    columns = {table.name: set(table.c.keys()) for table in t.VIEW_TABLES}
    assert {"name", "name_key", "model_id"} <= columns["view_models"]
    assert {"model_id", "number", "name", "stage"} <= columns["view_versions"]
    assert {"model_id", "alias"} <= columns["view_aliases"]
    assert {"run_id", "started_at"} <= columns["view_runs"]
    assert like_prefix("a_b%") == "a\\_b\\%%"


PROBE = """
import json, sys
from modelog.cli.main import main
try:
    main([])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in ("sqlalchemy", "pydantic", "httpx", "structlog") if m in sys.modules)))
"""


def test_completion_of_a_sqlite_registry_loads_no_sqlalchemy(filled: Any, db_url: str, home: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the fast path is for SQLite registries")
    env = {"PATH": os.environ["PATH"], "MODELOG_HOME": str(home), "MODELOG_DATABASE_URL": db_url,
           "_MODELOG_COMPLETE": "bash_complete", "COMP_WORDS": "modelog model show chu", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=True)
    lines = done.stdout.splitlines()
    assert lines[:-1] == ["plain,churn"]
    assert json.loads(lines[-1]) == []


def test_a_missing_registry_completes_nothing_and_is_not_created(tmp_path: Path) -> None:
    home = tmp_path / "none"
    env = {"PATH": os.environ["PATH"], "MODELOG_HOME": str(home), "_MODELOG_COMPLETE": "bash_complete",
           "COMP_WORDS": "modelog model show ", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "modelog.cli.main"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=False)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "", "")
    assert not home.exists()
