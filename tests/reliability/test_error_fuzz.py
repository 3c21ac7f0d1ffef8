"""Every "Error: unexpected ..." class of issue 12.15, fuzzed on both backends, through the CLI and the SDK.

Hypothesis draws from the classes that used to escape as internal errors: text with lone surrogates
(undecodable bytes in arguments or the environment), integers beyond every column (positions, pages,
version numbers), timestamps at the edges of the calendar, malformed import lines (missing fields,
NaN, huge numbers, invalid UTF-8, deep nesting) and database URLs that cannot work. Whatever it draws,
the user gets output or one ``Error:`` line (exit 0, 1, or 2 for usage), the SDK raises a
``RegistryError`` with a one-line message, and neither shows a traceback or "unexpected".
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelog.cli.main import cli
from modelog.registry.errors import RegistryError
from modelog.sdk import Client

EXAMPLES = int(os.environ.get("MODELOG_FUZZ_EXAMPLES", "1000" if os.environ.get("MODELOG_LONG_RELIABILITY") else "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

surrogates = st.sampled_from(["\udcff", "\ud800", "a\udce9b", "\udfff\ud800"])
bad_text = st.one_of(surrogates, st.text(max_size=12).flatmap(lambda t: surrogates.map(lambda s: t + s)))
huge = st.one_of(st.integers(min_value=2**31 - 2, max_value=2**70), st.integers(max_value=-1, min_value=-(2**70)),
                 st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30]))
edge_times = st.one_of(
    st.sampled_from(["0001-01-01", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00-14:00",
                     "9999-12-31T23:59:59.999999", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z",
                     "1970-01-01T00:00:00Z", "2000-02-30", "0000-01-01"]),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.isoformat()),
)
values = st.one_of(bad_text, huge.map(str), edge_times, st.sampled_from(["demo", "1", "production", "@champion"]))

CLI_SHAPES = st.one_of(
    st.tuples(st.sampled_from([["model", "register", "-n"], ["model", "history"], ["model", "version", "list"],
                               ["run", "show"], ["model", "list", "--name"], ["model", "list", "--tag"],
                               ["log", "show", "--stream"]]), values),
    st.tuples(st.sampled_from([["model", "list", "--page"], ["model", "list", "--at-position"],
                               ["log", "show", "--from-position"], ["log", "show", "--limit"],
                               ["log", "head", "--at-position"], ["run", "list", "--limit"]]), values),
    st.tuples(st.sampled_from([["model", "list", "--as-of"], ["log", "head", "--as-of"],
                               ["model", "history", "demo", "--as-of"]]), values),
    st.tuples(st.sampled_from([["model", "update", "demo", "-d"], ["model", "update", "demo", "-t"],
                               ["model", "version", "update", "demo", "1", "-d"],
                               ["model", "version", "update", "demo", "1", "--alias"],
                               ["model", "version", "update", "demo", "-s", "production"]]), values),
)


def _check_cli(runner: CliRunner, args: list[str], env: dict[str, str] | None = None) -> int:
    result = runner.invoke(cli, args, env=env, catch_exceptions=True)
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output, (args, result.output)
    assert "Error: unexpected " not in result.stderr, (args, result.stderr)
    if result.exit_code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, (args, result.stderr)
    return result.exit_code


@pytest.fixture
def filled(registry: object, db_url: str) -> str:
    client = Client(url=db_url)
    client.register_model("demo")
    client.create_model_version("demo")
    client.close()
    return db_url


def test_fuzz_cli_with_every_error_class(filled: str, home: Path) -> None:
    runner = CliRunner(env={"MODELOG_DATABASE_URL": filled, "MODELOG_HOME": str(home)})
    seen: dict[int, int] = {}

    @SETTINGS
    @given(CLI_SHAPES)
    def run_one(parts: tuple[list[str], str]) -> None:
        code = _check_cli(runner, [*parts[0], parts[1]])
        seen[code] = seen.get(code, 0) + 1

    run_one()
    assert _check_cli(runner, ["log", "verify"]) == 0
    print(f"\nerror-class CLI fuzz: {sum(seen.values())} argument lists, exit codes {seen}")


def _sdk_calls(client: Client, value: Any, moment: datetime) -> list[Any]:
    return [
        lambda: client.get_model(value), lambda: client.history(value), lambda: client.list_models(tag=value),
        lambda: client.get_run(value), lambda: client.register_model(value), lambda: client.get_artifact(value),
        lambda: client.update_model("demo", description=value), lambda: client.get_model_version("demo", value),
        lambda: client.set_stage("demo", value, "staging"), lambda: client.history("demo", at_position=value),
        lambda: client.log_events(from_position=value), lambda: client.list_models(page=value),
        lambda: client.history("demo", as_of=moment), lambda: client.list_models(as_of=moment),
        lambda: client.list_run_steps(value), lambda: client.load_artifact(value),
    ]


EDGE_MOMENTS = [datetime.min, datetime.max, datetime.min.replace(tzinfo=timezone(timedelta(hours=9))),
                datetime.max.replace(tzinfo=timezone(timedelta(hours=-9))), datetime(1970, 1, 1, tzinfo=UTC)]


def test_fuzz_sdk_with_every_error_class(filled: str) -> None:
    client = Client(url=filled)
    outcomes: dict[str, int] = {}
    try:
        @SETTINGS
        @given(st.one_of(bad_text, huge), st.one_of(st.sampled_from(EDGE_MOMENTS), st.datetimes(
            min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))), st.integers(0, 15))
        def call_one(value: Any, moment: datetime, which: int) -> None:
            call = _sdk_calls(client, value, moment)[which]
            try:
                call()
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except RegistryError as error:
                message = str(error)
                assert "\n" not in message and "unexpected" not in message, (which, value, message)
                assert error.__cause__ is None and error.__traceback__ is not None
                outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1

        call_one()
    finally:
        client.close()
    print(f"\nerror-class SDK fuzz: {outcomes}")


LINE_FIELDS = ("position", "stream_id", "stream_version", "event_type", "schema_version", "data", "meta",
               "recorded_at", "prev_hash", "hash")
bad_values = st.one_of(huge, st.sampled_from([float("nan"), float("inf"), -0.5, 1e400, None, True, "1", [], {}]),
                       bad_text)


@st.composite
def malformed_lines(draw: st.DrawFn, good: str) -> bytes:
    record = json.loads(good)
    how = draw(st.sampled_from(["drop", "value", "bytes", "nest", "cut"]))
    if how == "drop":
        record.pop(draw(st.sampled_from(LINE_FIELDS)))
    elif how == "value":
        record[draw(st.sampled_from(LINE_FIELDS))] = draw(bad_values)
    elif how == "nest":
        return b"[" * draw(st.integers(1000, 200_000)) + b"\n"
    text = json.dumps(record, allow_nan=True).encode("utf-8", "surrogatepass")
    if how == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + text[at:]
    if how == "cut":
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text + b"\n"


def test_fuzz_import_with_malformed_lines(filled: str, home: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"MODELOG_DATABASE_URL": filled, "MODELOG_HOME": str(home)})
    export = tmp_path / "good.jsonl"
    assert runner.invoke(cli, ["export", "--log-only", str(export)]).exit_code == 0
    lines = export.read_bytes().splitlines(keepends=True)
    target = tmp_path / "target"
    target_env = {"MODELOG_DATABASE_URL": f"sqlite:///{target / 'registry.db'}", "MODELOG_HOME": str(target)}

    @SETTINGS
    @given(st.data())
    def import_one(data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(lines) - 2))
        bad = data.draw(malformed_lines(lines[index].decode()))
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b"".join([*lines[:index], bad, *lines[index + 1:]]))
        code = _check_cli(runner, ["import", str(path)], env=target_env)
        assert code == 1  # every malformed line is refused, and nothing is imported
        assert runner.invoke(cli, ["log", "head"], env=target_env).stdout.startswith("Log head: position 0")

    import_one()


@pytest.mark.parametrize("url", [
    "not a url", "postgres://postgres@127.0.0.1:1/nowhere", "mysql://u@h/db", "postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h:port/db",
    "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
])
def test_database_urls_that_cannot_work_give_one_line(url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    _check_cli(runner, ["model", "list"], env={"MODELOG_DATABASE_URL": url, "MODELOG_HOME": str(tmp_path)})
    with pytest.raises(RegistryError) as refused:
        Client(url=url, home=tmp_path).list_models()
    assert "\n" not in str(refused.value) and refused.value.__cause__ is None
