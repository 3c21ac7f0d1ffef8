"""Logging: structlog is configured by the CLI's options, yet loaded only once something logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def probe(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                          check=True)


def test_configuration_waits_for_the_first_logger_and_then_applies() -> None:
    done = probe(
        "import sys\n"
        "from modelog.cli.logs import configure_logging\n"
        "configure_logging(verbose=True, fmt='json')\n"
        "print('structlog' in sys.modules)\n"
        "from modelog.registry.logs import get_logger\n"
        "get_logger('modelog.test').debug('hello', answer=42)\n"
    )
    assert done.stdout.strip() == "False"
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert (line["event"], line["answer"], line["level"]) == ("hello", 42, "debug")


def test_quiet_by_default_and_applied_at_once_when_structlog_is_loaded() -> None:
    done = probe(
        "import structlog\n"
        "from modelog.cli.logs import configure_logging\n"
        "configure_logging(verbose=False, fmt='console')\n"
        "log = structlog.get_logger('modelog.test')\n"
        "log.debug('hidden')\n"
        "log.warning('shown')\n"
    )
    assert "hidden" not in done.stderr and "shown" in done.stderr and done.stdout == ""


def test_verbose_json_logs_the_failure_with_its_traceback_and_quiet_mode_loads_no_structlog(tmp_path: Path) -> None:
    code = ("import sys\nfrom cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('structlog' in sys.modules)\n")
    env = {"PATH": "/usr/bin:/bin", "MODELOG_HOME": str(tmp_path), "HOME": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                              env=env, timeout=60, check=True)

    loud = cli("-v", "--log-format", "json", "model", "history", "nope")
    record = json.loads(next(line for line in loud.stderr.splitlines() if line.startswith("{")))
    assert (record["event"], record["error_type"], record["level"]) == ("command failed", "NotFoundError", "debug")
    assert "Traceback" in record["exception"] and "Error: no model named 'nope'" in loud.stderr
    quiet = cli("model", "history", "nope")
    assert quiet.stderr.strip() == "Error: no model named 'nope' has ever existed"
    assert quiet.stdout.strip() == "False"
