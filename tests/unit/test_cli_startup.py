"""CLI start-up stays light: which heavy modules a command pulls in, checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from modelog.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("sqlalchemy", "pydantic", "sklearn", "pandas", "numpy", "structlog")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def loaded_after(args: list[str], home: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "MODELOG_HOME": str(home), "HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=120, check=False)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_database_or_model_library(tmp_path: Path) -> None:
    assert loaded_after(["--help"], tmp_path) == []


@pytest.mark.parametrize("args", [["model", "list"], ["model", "version", "list", "demo", "-o", "json"],
                                  ["log", "show"]])
def test_read_commands_do_not_import_pydantic_or_ml_libraries(args: list[str], tmp_path: Path) -> None:
    loaded = loaded_after(args, tmp_path)
    assert "sqlalchemy" in loaded  # the probe really ran the command against a registry
    assert not {"pydantic", "sklearn", "pandas", "numpy", "structlog"} & set(loaded)  # structlog loads asyncio
