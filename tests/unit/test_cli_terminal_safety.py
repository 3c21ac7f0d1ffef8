"""Error lines never carry raw control characters: rejected input cannot drive the user's terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from modelog.cli.main import cli, made_safe
from modelog.cli.output import escape_controls

RED = "\x1b[31m"
ROOT = Path(__file__).resolve().parents[2]

#: Usage errors that quote what was typed; some of click's messages quote it raw.
USAGE_CASES = [
    ["model", "version", "list", "demo", f"extra{RED}"],
    ["model", "version", "list", "demo", "one", f"two{RED}"],
    [f"mod{RED}el"],
    ["model", "list", f"--bad{RED}"],
    ["model", "list", "--sort-by", RED],
    ["model", "list", "--as-of", RED],
    ["log", "verify", "--anchor", f"1:{RED}"],
    ["run", "list", "--status", RED],
    ["model", "version", "list", "demo", "x\nError: forged line"],
    ["model", "version", "list", "demo", "x\u202etxt.exe"],
]


@pytest.mark.parametrize("argv", USAGE_CASES)
def test_usage_errors_escape_control_characters(argv: list[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOG_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1 and "forged" not in result.stderr.replace(error_lines[0], "")
    assert result.stdout == ""


def test_raw_argument_text_is_spelled_out() -> None:
    result = CliRunner().invoke(cli, ["model", "version", "list", "demo", f"x{RED}"])
    assert result.stderr.splitlines()[-1] == "Error: Got unexpected extra argument (x\\x1b[31m)"


def test_command_errors_escape_control_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELOG_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["export", str(tmp_path / f"a{RED}"), "--force"])
    assert result.exit_code == 0, result.output  # a control character in a file name is allowed ...
    again = CliRunner().invoke(cli, ["export", str(tmp_path / f"a{RED}")])
    assert again.exit_code == 1  # ... but the error line naming it spells the ESC out
    assert again.stderr == f"Error: {tmp_path}/a\\x1b[31m already exists; pass --force to overwrite it\n"


def test_the_installed_entry_point_escapes_too(tmp_path: Path) -> None:
    env = {"MODELOG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "modelog.cli.main", "model", "version", "list", "d", f"x{RED}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "Error: Got unexpected extra argument (x\\x1b[31m)"


def test_escape_controls_keeps_printable_text() -> None:
    assert escape_controls("modèle ünïcode 模型 'quoted'") == "modèle ünïcode 模型 'quoted'"
    assert escape_controls("a\x00b\tc\x7f\x9b\u2066") == "a\\x00b\\tc\\x7f\\x9b\\u2066"
    assert made_safe(click.UsageError(f"bad {RED}")).message == "bad \\x1b[31m"


#: The modules allowed to write to the terminal themselves: the escaping printers, the error line
#: (escaped in main.made_safe's caller) and the reference generator (a developer tool).
PRINTERS = {"output.py", "main.py", "docs.py"}


def _raw_prints(path: Path) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"echo", "secho", "print", "write"} and not (isinstance(func, ast.Name) and name == "echo"):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(func)}")
    return found


def test_every_cli_line_goes_through_the_escaping_printers() -> None:
    """Issue 12.7: a class-level guarantee; a new command cannot print free text raw by accident."""
    offenders = [hit for path in sorted((ROOT / "cli").glob("*.py")) if path.name not in PRINTERS
                 for hit in _raw_prints(path)]
    assert offenders == [], "print through cli.output.echo / echo_table / echo_json instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("text", ["\x1b]0;title\x07", "a\u202eb", "x\u2066y", "z\u200bw", "c\rd", "l\u2028m", "\x85"])
def test_escape_controls_spells_out_every_hidden_character(text: str) -> None:
    shown = escape_controls(text)
    assert shown.isprintable()
    assert all(ch not in shown for ch in text if not ch.isprintable())
