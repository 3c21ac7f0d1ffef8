"""The server's access line: its lean renderers write exactly what structlog's own renderers write."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from modelog.server.access_log import ConsoleLine, JsonLine, Stamp, printable_values

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


def test_unprintable_text_reaches_no_terminal_as_it_is() -> None:
    """Unlike structlog's console renderer, a client's escape sequence or bidi override is shown escaped."""
    event = {**ACCESS, "path": "/api/v1/models/\x1b[31mred\u202e"}
    line = ConsoleLine()(None, "info", dict(event))
    assert "\x1b" not in line and "\u202e" not in line and "\\x1b[31mred\\u202e" in line, line
    other = printable_values(None, "error", {"event": "unexpected error", "path": "/a\x1b[2J", "who": "zoë"})
    assert other == {"event": "unexpected error", "path": "/a\\x1b[2J", "who": "zoë"}


@pytest.mark.parametrize("event", ODD, ids=range(len(ODD)))
def test_the_json_line_is_structlogs_json_line(event: dict[str, Any]) -> None:
    expected = structlog.processors.JSONRenderer()(None, "info", dict(event))
    assert JsonLine()(None, "info", dict(event)) == expected


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_queued_access_events_are_written_as_one_line_each_with_level_and_their_own_time(fmt: str) -> None:
    code = ("import time\nfrom modelog.server.access_log import configure_access_logs\n"
            f"lines = configure_access_logs({fmt!r})\n"
            "scope = {'method': 'GET', 'path': '/health', 'client': ('127.0.0.1', 5), 'headers': "
            "[(b'x-modelog-actor', b'me'), (b'x-modelog-command-id', b'')], 'modelog.principal': 'p'}\n"
            "for status in (200, 404, 413):\n    lines.add(scope, status, 0.0123)\n"
            "time.sleep(0.5)\n"  # the writer thread writes them within its interval, before close
            "print(len(lines._queue))\n"
            "lines.add(scope, 500, 1.0)\n"
            "lines.close()\n")  # and close writes what is left
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                          check=True)
    lines = done.stderr.splitlines()
    assert done.stdout == "0\n" and len(lines) == 4, done.stderr
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert list(records[0]) == ["method", "path", "status", "duration_ms", "client", "command_id", "principal",
                                    "claimed_actor", "event", "level", "timestamp"]
        assert [r["status"] for r in records] == [200, 404, 413, 500]
        assert records[0] | {"timestamp": ""} == {
            "method": "GET", "path": "/health", "status": 200, "duration_ms": 12.3, "client": "127.0.0.1:5",
            "command_id": None, "principal": "p", "claimed_actor": "me", "event": "request", "level": "info",
            "timestamp": ""}
        times = [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in records]
        assert records[0]["timestamp"].endswith("Z") and times[2] - times[0] < timedelta(seconds=0.3) < \
            times[3] - times[2]  # each event's own time, not the time it was written
    else:
        assert all(line.split()[1:4] == ["[info", "]", "request"] and line.split()[0].endswith("Z") for line in lines)
        assert lines[0].split()[4:] == ["claimed_actor=me", "client=127.0.0.1:5", "command_id=None",
                                        "duration_ms=12.3", "method=GET", "path=/health", "principal=p", "status=200"]


def test_the_stamp_is_structlogs_iso_utc_time() -> None:
    now = structlog.processors.TimeStamper(fmt="iso", utc=True)(None, "info", {})["timestamp"]
    assert len(Stamp()(None, "info", {})["timestamp"]) == len(now)
    stamp = Stamp()
    for at in (1764779519_373853, 1764779519_000000, 1764779519_000001, 1764779520_999999, 946684800_500000,
               1764779519_373853):
        seconds, micro = divmod(at, 1_000_000)
        expected = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micro).isoformat().replace("+00:00", "Z")
        assert stamp(None, "info", {"_at_us": at}) == {"timestamp": expected}
    assert stamp(None, "info", {"_at_us": 1764779519_000000})["timestamp"] == "2025-12-03T16:31:59Z"  # isoformat()
