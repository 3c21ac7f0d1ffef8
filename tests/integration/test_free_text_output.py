"""Every CLI command that prints user-provided free text prints it escaped (issue 12.7), piped or not.

Free text is the one place control characters may live in the registry (names, tags and
version names refuse them): descriptions, licenses and the other model fields, version
descriptions, a failed run's message. Each is given a payload that would set the window
title, clear the screen, reverse the line (RTL override) and forge an ``Error:`` line;
every command that shows it must print it inert, on both backends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from modelog.application.local import connect
from modelog.registry.commands import ModelContext

from tests.cli_support import run

HOSTILE = "a\x1b]0;pwned\x07b\x1b[2J\u202eexe.txt\r\nError: forged\u2066\u200b\x85\u2028z"
#: What must never reach the terminal raw.
RAW = ("\x1b", "\x07", "\u202e", "\r", "\u2066", "\u200b", "\x85", "\u2028")
FIELDS = ("-d", "-l", "--audience", "--use-cases", "--limitations", "--trade-offs", "--ethical")

#: Every read command that shows models, versions, runs or the log (human-readable and JSON).
COMMANDS = [
    ("model", "list"), ("model", "list", "-o", "json"), ("model", "history", "hostile"),
    ("model", "history", "hostile", "--runs"), ("model", "history", "hostile", "-o", "json"),
    ("model", "version", "list", "hostile"), ("model", "version", "list", "hostile", "-o", "json"),
    ("model", "version", "runs", "hostile", "1"), ("model", "version", "artifacts", "hostile", "1"),
    ("run", "list"), ("run", "show", "run-hostile"), ("run", "show", "run-hostile", "-o", "json"),
    ("log", "show"), ("log", "show", "-o", "json"), ("log", "verify"), ("log", "head"),
    ("db", "status"), ("projections", "verify"),
]


@pytest.fixture
def hostile_registry(registry: object, db_url: str) -> str:
    options = [arg for option in FIELDS for arg in (option, HOSTILE)]
    assert run("model", "register", "-n", "hostile", *options, "-t", "plain").exit_code == 0
    api = connect(db_url)
    try:
        api.create_version("hostile", description=HOSTILE)
        api.start_run("run-hostile", "pipe", model=ModelContext(name="hostile"))
        api.fail_run("run-hostile", error_type="ValueError", error_message=HOSTILE, failed_step="train")
    finally:
        api.close()
    return db_url


def _assert_inert(output: str, argv: tuple[str, ...]) -> None:
    found = [char for char in RAW if char in output]
    assert not found, f"{' '.join(argv)} printed {found!r} raw:\n{output}"
    forged = [line for line in output.splitlines() if line.lstrip().startswith("Error: forged")]
    assert not forged, f"{' '.join(argv)} let a forged line through:\n{output}"


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: "-".join(argv))
def test_every_read_command_prints_free_text_inert(hostile_registry: str, argv: tuple[str, ...]) -> None:
    result = run(*argv)
    assert result.exit_code == 0, result.output
    _assert_inert(result.stdout + result.stderr, argv)


def test_the_text_is_shown_escaped_not_dropped(hostile_registry: str) -> None:
    shown = run("run", "show", "run-hostile").stdout
    assert "\\x1b]0;pwned\\x07b\\x1b[2J\\u202eexe.txt\\r\\nError: forged" in shown
    listed = json.loads(run("model", "list", "-o", "json").stdout)
    assert listed["items"][0]["description"] == HOSTILE  # JSON readers get the text back exactly


def test_write_commands_echo_what_they_were_given_inert(hostile_registry: str, tmp_path: Path) -> None:
    results = [
        run("model", "update", "hostile", "-d", HOSTILE),
        run("model", "version", "update", "hostile", "1", "-d", HOSTILE + "!"),
        run("export", str(tmp_path / f"out{HOSTILE[:12]}.bundle")),
        run("model", "delete", "hostile", "-y"),
    ]
    for result in results:
        assert result.exit_code == 0, result.output
        _assert_inert(result.stdout + result.stderr, ("write",))
