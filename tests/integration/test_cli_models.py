"""``modelog model ...`` through click's CliRunner against a real registry on every backend."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from modelog.application.local import LocalRegistry

from tests.cli_support import run


def event_count(registry: object) -> int:
    return registry.store.head()  # type: ignore[attr-defined]


def test_empty_registry_lists_no_models(registry: object) -> None:
    result = run("model", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "No models found.\n", "")


def test_register_then_list_shows_the_model_in_aligned_columns(registry: object) -> None:
    result = run("model", "register", "-n", "demo_cli", "-d", "created from cli", "-t", "cli", "-l", "MIT")
    assert result.exit_code == 0, result.output
    found = registry.reads.get_model("demo_cli")  # type: ignore[attr-defined]
    assert result.stdout == f"Model 'demo_cli' registered (id {found.id}).\n"
    listing = run("model", "list")
    assert listing.exit_code == 0
    assert listing.stdout == (
        "NAME      PRODUCTION  STAGING  LATEST  VERSIONS  TAGS  UPDATED               UPDATED_BY\n"
        f"demo_cli                               0         cli   {found.updated_at[:19]}Z  tester\n"
    )
    chosen = run("model", "list", "--columns", "id,name,description,license")
    assert chosen.stdout == ("ID        NAME      DESCRIPTION       LICENSE\n"
                             f"{found.id[:8]}  demo_cli  created from cli  MIT\n")


def test_default_listing_hides_empty_tags_and_shows_stage_holders(registry: object) -> None:
    run("model", "register", "-n", "churn")
    api = LocalRegistry.over(registry)  # type: ignore[arg-type]
    for _ in range(3):
        api.create_version("churn")
    api.set_stage("churn", 2, "production")
    api.set_stage("churn", 3, "staging")
    lines = run("model", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PRODUCTION", "STAGING", "LATEST", "VERSIONS", "UPDATED", "UPDATED_BY"]
    assert lines[1].split()[:5] == ["churn", "2", "3", "3", "3"]
    bad = run("model", "list", "--columns", "name,colour")
    assert bad.exit_code == 2 and "unknown column(s) COLOUR" in bad.stderr


def test_register_json_listing_has_the_documented_keys(registry: object) -> None:
    run("model", "register", "-n", "a", "-t", "x", "-t", "y")
    data = json.loads(run("model", "list", "-o", "json").stdout)
    assert set(data) == {"items", "total", "page", "size"}
    assert data["total"] == 1
    assert set(data["items"][0]) == {"id", "name", "license", "description", "audience", "use_cases", "limitations",
                                     "trade_offs", "ethics", "tags", "latest_version", "version_count", "created_at",
                                     "updated_at", "created_by", "production", "staging", "updated_by"}
    assert data["items"][0]["tags"] == ["x", "y"]


def test_duplicate_name_is_one_error_line_and_writes_nothing(registry: object) -> None:
    run("model", "register", "-n", "demo")
    before = event_count(registry)
    result = run("model", "register", "-n", "DEMO")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: a model named 'DEMO' already exists\n"
    assert event_count(registry) == before


def test_invalid_name_is_rejected_before_anything_is_written(registry: object) -> None:
    result = run("model", "register", "-n", "a/b")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert event_count(registry) == 0


def test_missing_required_option_is_a_usage_error(registry: object) -> None:
    result = run("model", "register")
    assert result.exit_code == 2
    assert "Error: Missing option '-n' / '--name'." in result.stderr


def test_update_changes_only_given_fields_and_tags(registry: object) -> None:
    run("model", "register", "-n", "demo", "-l", "Apache", "-d", "first", "-t", "old")
    result = run("model", "update", "demo", "-t", "tag1", "-t", "tag2", "-e", "some ethical implications",
                 "-r", "old")
    assert (result.exit_code, result.stdout) == (0, "Model 'demo' updated.\n")
    found = registry.reads.get_model("demo")  # type: ignore[attr-defined]
    assert (found.license, found.description, found.ethics) == ("Apache", "first", "some ethical implications")
    assert found.tags == ("tag1", "tag2")


def test_update_of_a_missing_model_names_the_models_that_exist(registry: object) -> None:
    run("model", "register", "-n", "demo")
    result = run("model", "update", "dmeo", "-d", "x")
    assert (result.exit_code, result.stderr) == (1, "Error: model 'dmeo' does not exist; did you mean 'demo'?\n")
    unlike = run("model", "update", "zzzzzz", "-d", "x")
    assert (unlike.exit_code, unlike.stderr) == (1, "Error: model 'zzzzzz' does not exist; models: demo\n")


def test_delete_without_terminal_and_without_yes_refuses(registry: object) -> None:
    run("model", "register", "-n", "demo")
    before = event_count(registry)
    result = run("model", "delete", "demo")
    assert result.exit_code == 1
    assert result.stderr == ("Error: refusing to delete model 'demo' and its 0 version(s) without confirmation "
                             "(no terminal to ask on); pass -y/--yes to confirm\n")
    assert event_count(registry) == before


def test_delete_asks_at_a_terminal(registry: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelog.cli.common.is_interactive", lambda: True)
    run("model", "register", "-n", "demo")
    declined = run("model", "delete", "demo", input="n\n")
    assert declined.exit_code == 1
    assert registry.reads.get_model("demo").name == "demo"  # type: ignore[attr-defined]
    accepted = run("model", "delete", "demo", input="y\n")
    assert accepted.exit_code == 0
    assert accepted.stdout == "Delete model 'demo' and its 0 version(s)? [y/N]: y\nModel 'demo' deleted.\n"


def test_delete_with_yes(registry: object) -> None:
    run("model", "register", "-n", "demo")
    result = run("model", "delete", "demo", "-y")
    assert (result.exit_code, result.stdout) == (0, "Model 'demo' deleted.\n")
    assert run("model", "list").stdout == "No models found.\n"


def test_list_at_a_past_position_and_time(registry: object) -> None:
    run("model", "register", "-n", "first")
    position = event_count(registry)
    moment = datetime.now().isoformat()  # naive: local time
    run("model", "register", "-n", "second")
    names = lambda r: [m["name"] for m in json.loads(r.stdout)["items"]]  # noqa: E731
    assert names(run("model", "list", "-o", "json")) == ["first", "second"]
    assert names(run("model", "list", "-o", "json", "--at-position", str(position))) == ["first"]
    assert names(run("model", "list", "-o", "json", "--as-of", moment)) == ["first"]
    assert run("model", "list", "--at-position", "0").stdout == "No models found.\n"


def test_point_in_time_errors(registry: object) -> None:
    malformed = run("model", "list", "--as-of", "yesterday")
    assert malformed.exit_code == 2
    assert ("Error: Invalid value for '--as-of': 'yesterday' is not an ISO 8601 timestamp "
            "(for example 2024-05-01T12:00:00Z)") in malformed.stderr
    both = run("model", "list", "--as-of", "2024-01-01", "--at-position", "1")
    assert both.exit_code == 2
    assert "Error: give either --as-of or --at-position, not both" in both.stderr
    beyond = run("model", "list", "--at-position", "5")
    assert (beyond.exit_code, beyond.stderr) == (
        1, "Error: log position 5 is beyond the end of the log (last position 0)\n")


def test_list_filters_sorts_and_pages(registry: object) -> None:
    for name, tag in (("alpha", "a"), ("beta", "b"), ("gamma", "a")):
        run("model", "register", "-n", name, "-t", tag)
    names = lambda *a: [m["name"] for m in json.loads(run("model", "list", "-o", "json", *a).stdout)["items"]]  # noqa: E731
    assert names("--tag", "a") == ["alpha", "gamma"]
    assert names("--name", "MM") == ["gamma"]
    assert names("--size", "2", "--page", "2") == ["gamma"]
    paged = run("model", "list", "--size", "2")
    assert paged.stdout.endswith("Page 1 of 2 (3 models).\n")


def test_history_lists_every_event_even_after_deletion(registry: object) -> None:
    run("model", "register", "-n", "demo", "-l", "Apache")
    run("model", "update", "demo", "-t", "t1")
    run("model", "delete", "demo", "-y")
    result = run("model", "history", "demo", "-o", "json")
    assert result.exit_code == 0
    entries = json.loads(result.stdout)
    assert [e["event"] for e in entries] == ["ModelRegistered", "ModelUpdated", "ModelDeleted"]
    assert entries[1]["summary"] == "updated model: +tag 't1'"
    assert {e["actor"] for e in entries} == {"tester"}
    table = run("model", "history", "demo").stdout.splitlines()
    assert table[0].split() == ["POSITION", "TIME", "ACTOR", "EVENT", "CHANGE", "RUN"]
    assert table[2].endswith("ModelUpdated     updated model: +tag 't1'")


def test_rename_then_history_under_the_new_name_shows_everything(registry: object) -> None:
    run("model", "register", "-n", "demo", "-l", "Apache")
    LocalRegistry.over(registry).create_version("demo")  # type: ignore[arg-type]
    before = event_count(registry)
    result = run("model", "rename", "demo", "fraud")
    found = registry.reads.get_model("fraud")  # type: ignore[attr-defined]
    assert (result.exit_code, result.stdout) == (0, f"Model 'demo' renamed to 'fraud' (id {found.id}).\n")
    entries = json.loads(run("model", "history", "fraud", "-o", "json").stdout)
    assert [e["event"] for e in entries] == ["ModelRegistered", "ModelVersionCreated", "ModelRenamed"]
    assert entries[-1]["summary"] == "renamed model 'demo' to 'fraud'" and entries[-1]["actor"] == "tester"
    gone = run("model", "history", "demo")
    assert (gone.exit_code, gone.stderr) == (1, "Error: no model is named 'demo': the model that held the name was "
                                                "renamed (now 'fraud'); see its history under that name\n")
    past = json.loads(run("model", "history", "demo", "--at-position", str(before), "-o", "json").stdout)
    assert [e["event"] for e in past] == ["ModelRegistered", "ModelVersionCreated"]
    shown = json.loads(run("model", "version", "list", "demo", "--at-position", str(before), "-o", "json").stdout)
    assert [(v["model_name"], v["number"]) for v in shown] == [("demo", 1)]


@pytest.mark.parametrize(("args", "message"), [
    (("dmeo", "x"), "Error: model 'dmeo' does not exist; did you mean 'demo'?\n"),
    (("demo", "Other"), "Error: a model named 'Other' already exists\n"),
    (("demo", "demo"), "Error: model 'demo' is already named 'demo'\n"),
    (("demo", "a/b"), None),
])
def test_a_refused_rename_is_one_line_exit_1_and_writes_nothing(registry: object, args: tuple[str, str],
                                                                 message: str | None) -> None:
    run("model", "register", "-n", "demo")
    run("model", "register", "-n", "other")
    before = event_count(registry)
    result = run("model", "rename", *args)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    if message is not None:
        assert result.stderr == message
    assert event_count(registry) == before
    usage = run("model", "rename", "demo")
    assert usage.exit_code == 2 and "Missing argument 'NEW_NAME'" in usage.stderr
