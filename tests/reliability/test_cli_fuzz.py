"""Hypothesis fuzzing of the CLI's model and version commands: whatever the arguments, the user sees output or a
clean ``Error:`` line (exit 0, 1 or 2), never a traceback or an "unexpected" internal error, and the log verifies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelog.application.bootstrap import open_registry
from modelog.cli.main import cli
from modelog.registry import commands as cmd

EXAMPLES = int(os.environ.get("MODELOG_FUZZ_EXAMPLES", "2000" if os.environ.get("MODELOG_LONG_RELIABILITY") else "150"))

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["demo", "DEMO", "1", "0", "-1", "latest", "production", "@champion", "..", "a/b", "%", "'",
                     "9" * 25, "", " ", "\x00", "café", "cafe\u0301", "1.5", "@", "@@", "--", "-"]),
)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), texts)
stages = st.sampled_from(["none", "staging", "production", "archived", "PRODUCTION", "latest", "prod", ""])

commands = st.one_of(
    st.tuples(st.just(["model", "register", "-n"]), texts, st.lists(st.sampled_from(["-t", "-l", "-d"]) | texts,
                                                                      max_size=4)),
    st.tuples(st.just(["model", "update"]), texts, st.lists(st.sampled_from(["-t", "-r", "-l"]) | texts, max_size=4)),
    st.tuples(st.just(["model", "list"]), st.sampled_from(["--name", "--tag", "--page", "--size", "--as-of",
                                                           "--at-position", "--sort-by", "-o"]),
              st.lists(numbers, min_size=1, max_size=3)),
    st.tuples(st.sampled_from([["model", "version", "list"], ["model", "version", "artifacts"],
                               ["model", "version", "runs"], ["model", "version", "model_objects"],
                               ["model", "history"]]), texts,
              st.lists(st.sampled_from(["--stage", "--as-of", "--at-position", "-o", "json"]) | numbers, max_size=3)),
    st.tuples(st.just(["model", "version", "update"]), texts,
              st.lists(st.sampled_from(["-s", "-f", "-n", "-d", "--alias", "--remove-alias"]) | stages | numbers,
                       min_size=1, max_size=5)),
    st.tuples(st.just(["model", "version", "delete"]), texts, st.lists(numbers | st.just("-y"), max_size=2)),
)


def _flatten(parts: tuple[list[str], str, list[str]]) -> list[str]:
    head, first, rest = parts
    return [*head, first, *rest]


def test_fuzz_model_and_version_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'registry.db'}"
    with open_registry(url, home=home) as registry:
        registry.commands.execute(cmd.RegisterModel(name="demo"))
        for _ in range(3):
            registry.commands.execute(cmd.CreateVersion(model="demo"))
    runner = CliRunner(env={"MODELOG_DATABASE_URL": url, "MODELOG_HOME": str(home)})
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(commands)
    def run_one(parts: Any) -> None:
        args = _flatten(parts)
        result = runner.invoke(cli, args, catch_exceptions=True)
        seen[result.exit_code] = seen.get(result.exit_code, 0) + 1
        assert result.exit_code in (0, 1, 2), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
        assert "Traceback" not in result.output, (args, result.output)
        assert "Error: unexpected " not in result.stderr, (args, result.stderr)  # an internal error
        if result.exit_code:
            assert "\nError: " in "\n" + result.stderr, (args, result.stderr)

    run_one()
    with open_registry(url, home=home) as registry:
        assert registry.store.verify().ok
    print(f"\nCLI fuzz: {sum(seen.values())} argument lists, exit codes {seen}, no traceback")
