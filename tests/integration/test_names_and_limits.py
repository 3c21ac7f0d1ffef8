"""Spoofable names (issue 12.7), one length rule on both backends (12.10) and bounded free text (12.16).

Each refusal is one ``Error:`` line, exit 1, and writes nothing; each value at a limit is stored
on SQLite and PostgreSQL alike, and a registry exported from SQLite imports into PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from modelog.application.local import connect
from modelog.registry.validation import (
    MAX_ACTOR_LENGTH,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
)

from tests import backends
from tests.cli_support import run

CYRILLIC_APE = "\u0430\u0440\u0435"  # looks exactly like "ape"


def _head(registry: object) -> int:
    return int(registry.store.head())  # type: ignore[attr-defined]


def _refused(registry: object, args: tuple[str, ...], message: str) -> None:
    before = _head(registry)
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert _head(registry) == before


@pytest.mark.parametrize(("name", "message"), [
    ("de\u3164mo", "invisible character U+3164"),  # Hangul filler: a letter that prints as nothing
    ("demo\u200b", "invisible character U+200B"),
    ("demo\ufe0f", "invisible character U+FE0F"),
    ("de\u034fmo", "invisible character U+034F"),
    ("\u2800demo", "invisible character U+2800"),
    ("d\u0435mo", "mixes the Cyrillic and Latin scripts"),
    ("p\u0430ypal", "mixes the Cyrillic and Latin scripts"),
    ("\u03bfpen-model", "mixes the Greek and Latin scripts"),
])
def test_invisible_and_mixed_script_names_are_refused(registry: object, name: str, message: str) -> None:
    _refused(registry, ("model", "register", "-n", name), message)
    _refused(registry, ("model", "register", "-n", "ok-model", "-t", name), message)


def test_a_look_alike_of_a_live_model_is_refused_until_it_is_deleted(registry: object) -> None:
    assert run("model", "register", "-n", CYRILLIC_APE).exit_code == 0
    _refused(registry, ("model", "register", "-n", "ape"), f"looks like the name of the existing model "
                                                           f"'{CYRILLIC_APE}'")
    _refused(registry, ("model", "register", "-n", "APE"), "confusable characters")
    assert run("model", "delete", CYRILLIC_APE, "-y").exit_code == 0
    assert run("model", "register", "-n", "ape").exit_code == 0  # only live names are protected


def test_look_alike_version_names_and_aliases_are_refused(registry: object, db_url: str) -> None:
    api = connect(db_url)
    try:
        api.register_model("m")
        api.create_version("m", name="ape")
        api.set_alias("m", 1, "ape")
        api.create_version("m")
        before = _head(registry)
        with pytest.raises(Exception, match="looks like the name of version 1 \\('ape'\\)"):
            api.create_version("m", name=CYRILLIC_APE)
        with pytest.raises(Exception, match="looks like the alias @ape"):
            api.set_alias("m", 2, CYRILLIC_APE)
        with pytest.raises(Exception, match="invisible character U\\+3164"):
            api.set_alias("m", 2, "a\u3164pe")
        assert _head(registry) == before
    finally:
        api.close()


def test_free_text_and_tags_are_bounded(registry: object, monkeypatch: pytest.MonkeyPatch) -> None:
    tags = [arg for i in range(MAX_TAGS + 1) for arg in ("-t", f"t{i}")]
    _refused(registry, ("model", "register", "-n", "m", *tags), f"{MAX_TAGS + 1} tags; the limit is {MAX_TAGS}")
    _refused(registry, ("model", "register", "-n", "m", "-t", "x" * (MAX_TAG_LENGTH + 1)),
             f"tag is {MAX_TAG_LENGTH + 1} characters long; the limit is {MAX_TAG_LENGTH}")
    _refused(registry, ("model", "register", "-n", "m", "-d", "x" * (MAX_TEXT_LENGTH + 1)),
             f"description is {MAX_TEXT_LENGTH + 1} characters long; the limit is {MAX_TEXT_LENGTH}")
    _refused(registry, ("model", "register", "-n", "m", "-l", "x" * (MAX_TEXT_LENGTH + 1)),
             f"license is {MAX_TEXT_LENGTH + 1} characters long")
    assert run("model", "register", "-n", "m", *tags[:-2]).exit_code == 0
    _refused(registry, ("model", "update", "m", "-t", "one-more"), f"{MAX_TAGS + 1} tags; the limit is {MAX_TAGS}")
    monkeypatch.setenv("MODELOG_ACTOR", "a" * (MAX_ACTOR_LENGTH + 1))
    _refused(registry, ("model", "register", "-n", "by-a-long-actor"),
             f"actor is {MAX_ACTOR_LENGTH + 1} characters long; the limit is {MAX_ACTOR_LENGTH}")
    monkeypatch.setenv("MODELOG_ACTOR", "eve\x1b]0;owned\x07")
    _refused(registry, ("model", "register", "-n", "by-a-hostile-actor"), "actor contains the control")


def _fill_to_the_limits(url: str) -> None:
    """A registry whose every bounded value is as long as the rule allows."""
    from modelog.registry.commands import ModelContext

    api = connect(url, actor="a" * MAX_ACTOR_LENGTH)
    try:
        name = "\u00e9" * MAX_NAME_LENGTH  # 200 characters, and 200 once normalised
        api.register_model(name, fields={"description": "d" * MAX_TEXT_LENGTH},
                           tags=[f"{i:03d}" + "t" * (MAX_TAG_LENGTH - 3) for i in range(MAX_TAGS)])
        api.create_version(name, name="v" * MAX_NAME_LENGTH, description="x" * MAX_TEXT_LENGTH)
        api.set_alias(name, 1, "a" * MAX_NAME_LENGTH)
        run_id = "r" * MAX_ID_LENGTH
        api.start_run(run_id, "p" * MAX_NAME_LENGTH, model=ModelContext(name=name))
        api.fail_run(run_id, error_type="E" * 500, error_message="m" * 20_000, failed_step="s" * 500)
    finally:
        api.close()


def test_values_at_every_limit_are_stored(registry: object, db_url: str) -> None:
    _fill_to_the_limits(db_url)
    assert run("log", "verify").exit_code == 0
    assert run("projections", "verify").exit_code == 0
    _refused(registry, ("model", "register", "-n", "\u00df" * 150), "once normalised (NFKC); the limit is 200")


def test_a_registry_exported_from_sqlite_imports_into_postgres(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    backends.require_postgres()
    source = f"sqlite:///{tmp_path / 'source.db'}"
    monkeypatch.setenv("MODELOG_HOME", str(tmp_path / "home"))
    _fill_to_the_limits(source)
    bundle = tmp_path / "registry.bundle"
    monkeypatch.setenv("MODELOG_DATABASE_URL", source)
    assert run("export", str(bundle)).exit_code == 0
    monkeypatch.setenv("MODELOG_DATABASE_URL", backends.reset_postgres())
    imported = run("import", str(bundle))
    assert imported.exit_code == 0, imported.output
    assert imported.stderr == ""  # no stray driver line either
    assert run("projections", "verify").exit_code == 0
