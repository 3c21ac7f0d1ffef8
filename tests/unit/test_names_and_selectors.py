"""Name rules (NFC storage, NFKC+casefold uniqueness, forbidden characters, lengths) and version selectors."""

from __future__ import annotations

import pytest
from modelog.registry.commands import RegisterModel
from modelog.registry.errors import InvalidInputError
from modelog.registry.selectors import LATEST, SelectorKind, VersionSelector, parse_selector
from modelog.registry.validation import (
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    clean_alias,
    clean_name,
    clean_tags,
    clean_text,
    clean_version_name,
    name_key,
)
from modelog.registry.values import Stage, parse_kind, parse_stage

# --- selectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("given", [1, "1", " 1 ", "01", VersionSelector(SelectorKind.NUMBER, 1)])
def test_number_one_and_text_one_are_the_same_selector(given: object) -> None:
    assert parse_selector(given) == VersionSelector(SelectorKind.NUMBER, 1)


@pytest.mark.parametrize(("given", "kind", "value"), [
    (None, SelectorKind.LATEST, None),
    ("latest", SelectorKind.LATEST, None),
    ("LATEST", SelectorKind.LATEST, None),
    ("Production", SelectorKind.STAGE, "production"),
    ("staging", SelectorKind.STAGE, "staging"),
    ("archived", SelectorKind.STAGE, "archived"),
    ("none", SelectorKind.STAGE, "none"),
    ("@champion", SelectorKind.ALIAS, "champion"),
    ("candidate", SelectorKind.NAME, "candidate"),
    ("v1.0", SelectorKind.NAME, "v1.0"),
    (2**31 - 1, SelectorKind.NUMBER, 2**31 - 1),
])
def test_selectors_parse_to_their_kind(given: object, kind: SelectorKind, value: object) -> None:
    assert parse_selector(given) == VersionSelector(kind, value)


@pytest.mark.parametrize(("given", "message"), [
    (0, "out of range"), (-1, "out of range"), ("0", "out of range"), ("-3", "out of range"),
    (2**31, "out of range"), (True, "boolean"), (1.5, "number or text"), ("", "must not be empty"),
    ("@", "must not be empty"), ("@12", "reserved"), ("@latest", "reserved"), ("a/b", "path separators"),
])
def test_bad_selectors_are_refused_with_a_reason(given: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_selector(given)


def test_selectors_describe_themselves() -> None:
    assert [parse_selector(s).describe() for s in (3, "cand", "production", None, "@best")] == [
        "version 3", "version named 'cand'", "production version", "the latest version", "version @best"]
    assert parse_selector(None) is LATEST


# --- names ---------------------------------------------------------------------------------


def test_names_are_stored_nfc_and_compared_by_nfkc_casefold() -> None:
    decomposed, composed = "Mode\u0301le", "Mod\u00e8le".replace("\u00e8", "\u00e9")
    assert clean_name(decomposed) == composed
    assert name_key(decomposed) == name_key(composed) == name_key("MODÉLE")
    assert name_key("Demo") == name_key("demo") == name_key("DEMO")
    assert name_key("\ufb01le") == name_key("file")  # the "fi" ligature folds (NFKC)
    assert name_key("Straße") == name_key("STRASSE")  # full case folding
    assert name_key("demo-1") != name_key("demo_1")
    assert RegisterModel(name=decomposed).name == composed


@pytest.mark.parametrize(("bad", "message"), [
    ("", "must not be empty"), ("   ", "must not be empty"), (" lead", "white space"), ("trail\t", "white space"),
    ("bell\x07", "U\\+0007"), ("nul\x00", "U\\+0000"), ("new\nline", "U\\+000A"), ("zero\u200bwidth", "U\\+200B"),
    ("bidi\u202eflip", "U\\+202E"), ("a/b", "path separators"), ("a\\b", "path separators"), (".", "'.' or '..'"),
    ("..", "'.' or '..'"), ("x" * (MAX_NAME_LENGTH + 1), "201 characters long; the limit is 200"),
    (42, "must be text, got int"), (None, "must be text"),
])
def test_bad_names_are_refused_with_a_clear_reason(bad: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        clean_name(bad, "model name")


@pytest.mark.parametrize("good", ["x" * MAX_NAME_LENGTH, "a.b", "...a", "my model", "模型", "naïve ☃", "v1-rc_2"])
def test_good_names_are_accepted(good: str) -> None:
    assert clean_name(good) == good


def test_length_is_counted_after_normalisation() -> None:
    assert clean_name("e\u0301" * MAX_NAME_LENGTH) == "\u00e9" * MAX_NAME_LENGTH


def test_model_name_errors_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="^model name must not be empty$"):
        RegisterModel(name="")


def test_text_fields() -> None:
    assert clean_text(None) is None
    assert clean_text("multi\nline\ttext") == "multi\nline\ttext"
    assert clean_text("") == ""
    with pytest.raises(InvalidInputError, match="NUL"):
        clean_text("a\x00b", "description")
    with pytest.raises(InvalidInputError, match="description is 10001 characters long"):
        clean_text("x" * (MAX_TEXT_LENGTH + 1), "description")
    with pytest.raises(InvalidInputError, match="unknown field\\(s\\) colour"):
        RegisterModel(name="m", fields={"colour": "red"})


def test_tags_are_validated_and_deduplicated_in_order() -> None:
    assert clean_tags(("b", "a", "b")) == ("b", "a")
    assert clean_tags("single") == ("single",)
    assert clean_tags(None) == ()
    with pytest.raises(InvalidInputError, match="tag"):
        clean_tags(("ok", "bad/tag"))


def test_version_names_and_aliases() -> None:
    assert clean_version_name("v12") == "v12"
    assert clean_alias("@champion") == clean_alias("champion") == "champion"
    for reserved in ("12", "latest", "Production"):
        with pytest.raises(InvalidInputError, match="reserved"):
            clean_alias(reserved)


def test_stage_and_kind_parsing() -> None:
    assert parse_stage(" Production ") is Stage.PRODUCTION
    assert parse_stage(Stage.STAGING) is Stage.STAGING
    with pytest.raises(InvalidInputError, match="stages are none, staging, production, archived"):
        parse_stage("prod")
    assert parse_kind("MODEL").value == "model"
    with pytest.raises(InvalidInputError, match="kinds are data, model, deployment"):
        parse_kind("weights")
