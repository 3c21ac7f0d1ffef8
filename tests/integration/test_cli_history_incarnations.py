"""``modelog model history NAME`` shows every model that has held NAME, one section each (issue 12.8)."""

from __future__ import annotations

import json

from tests.cli_support import run


def test_history_separates_the_models_that_held_a_name(registry: object) -> None:
    assert run("model", "register", "-n", "demo", "-d", "first").exit_code == 0
    assert run("model", "delete", "demo", "-y").exit_code == 0
    assert run("model", "register", "-n", "DEMO", "-d", "second").exit_code == 0  # the same name by the rule
    shown = run("model", "history", "demo")
    assert shown.exit_code == 0, shown.output
    headers = [line for line in shown.stdout.splitlines() if line.startswith("== ")]
    assert len(headers) == 2
    assert headers[0].startswith("== Model 'demo' #1 of 2 (id ") and headers[0].endswith(", deleted) ==")
    assert headers[1].startswith("== Model 'demo' #2 of 2 (id ") and headers[1].endswith(", current) ==")
    first, second = shown.stdout.split(headers[1])
    assert "deleted model 'demo'" in first and "registered model 'DEMO'" in second
    assert "registered model 'DEMO'" not in first
    entries = json.loads(run("model", "history", "demo", "-o", "json").stdout)
    assert len({e["model_id"] for e in entries}) == 2


def test_a_name_held_once_prints_one_plain_table(registry: object) -> None:
    run("model", "register", "-n", "solo")
    shown = run("model", "history", "solo").stdout
    assert not any(line.startswith("== ") for line in shown.splitlines())
    assert shown.splitlines()[0].startswith("POSITION")
