"""The server's access line: its lean renderers write exactly what structlog's own renderers write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from modelog.server.access_log import ConsoleLine, JsonLine

REPO = Path(__file__).resolve().parents[2]

ACCESS = {"method": "GET", "path": "/api/v1/models/m/versions/@champion", "status": 200, "duration_ms": 0.23,
          "client": "127.0.0.1:50590", "command_id": None, "principal": "bench", "claimed_actor": None,
          "event": "request", "level": "info", "timestamp": "2026-12-03T16:31:59.373853Z"}
ODD: list[dict[str, Any]] = [
    ACCESS,
    {**ACCESS, "path": "/api/v1/models/a b/versions/x=1", "principal": "zoë", "claimed_actor": 'it\'s "me"'},
    {**ACCESS, "command_id": "cmd-1\n2", "status": 413, "duration_ms": 12.0, "client": None},
    {**ACCESS, "event": "a rather long event name that is over thirty characters", "level": "exception"},
    {**ACCESS, "flag": True, "ratio": float("inf"), "big": 10**30, "empty": "", "tab": "a\tb"},
    {"event": "serving", "level": "warning", "timestamp": "2026-12-03T16:31:59Z", "head": 3},
    {"event": "x", "level": "info", "timestamp": "t", "logger": "modelog.server"},  # a column of its own
    {"event": "x", "level": "info", "timestamp": "t", "exception": "Traceback...\nValueError"},
    {"event": "x", "level": "info", "timestamp": "", "when": b"bytes"},
    {"event": "x", "level": "info", "timestamp": "t", "items": [1, "two"], "where": Path("/tmp")},
    {"event": "x", "level": "info"},
]


@pytest.mark.parametrize("event", ODD, ids=range(len(ODD)))
def test_the_console_line_is_structlogs_console_line(event: dict[str, Any]) -> None:
    expected = structlog.dev.ConsoleRenderer(colors=False)(None, "info", dict(event))
    assert ConsoleLine()(None, "info", dict(event)) == expected


@pytest.mark.parametrize("event", ODD, ids=range(len(ODD)))
def test_the_json_line_is_structlogs_json_line(event: dict[str, Any]) -> None:
    expected = structlog.processors.JSONRenderer()(None, "info", dict(event))
    assert JsonLine()(None, "info", dict(event)) == expected


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_the_access_logger_writes_one_line_with_level_and_utc_time(fmt: str) -> None:
    code = ("import sys\nfrom modelog.server.access_log import configure_access_logs\n"
            f"log = configure_access_logs({fmt!r})\n"
            "log.info('request', method='GET', path='/health', status=200, duration_ms=0.5, client=None, "
            "command_id=None, principal=None, claimed_actor=None)\n"
            "log.debug('hidden')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                          check=True)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and done.stdout == ""
    if fmt == "json":
        record = json.loads(lines[0])
        assert list(record)[:8] == ["method", "path", "status", "duration_ms", "client", "command_id", "principal",
                                    "claimed_actor"]
        assert (record["event"], record["level"], record["status"]) == ("request", "info", 200)
        assert record["timestamp"].endswith("Z")
    else:
        assert lines[0].split()[1:4] == ["[info", "]", "request"] and lines[0].split()[0].endswith("Z")
        pairs = lines[0].split()[4:]
        assert "method=GET" in pairs and "status=200" in pairs and "principal=None" in pairs

