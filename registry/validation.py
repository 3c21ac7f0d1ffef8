"""Rules for user-supplied names, tags and version selectors.

Names are stored in Unicode NFC form. Two model names clash when their NFKC,
case-folded forms are equal (``Demo`` and ``demo``, or a composed and a decomposed
``é``, name the same model), and lookups by name use the same rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from modelog.registry.errors import InvalidInputError
from modelog.registry.values import Stage

MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 10_000
STAGE_NAMES = frozenset(stage.value for stage in Stage)
RESERVED_SELECTORS = STAGE_NAMES | {"latest"}
_DIGITS = re.compile(r"^[0-9]+$")


def name_key(name: str) -> str:
    """The uniqueness key of a name: NFKC normalised and case-folded."""
    return unicodedata.normalize("NFKC", name).casefold()


def _bad_character(value: str) -> str | None:
    if value.isprintable():  # no "Other" (C*) character at all: the common case, checked in C
        return None
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"U+{ord(char):04X}"
    return None


def clean_name(value: object, what: str = "name") -> str:
    """Validate a model, version, artifact, alias or tag name; return its NFC form."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")
    name = unicodedata.normalize("NFC", value)
    if not name.strip():
        raise InvalidInputError(f"{what} must not be empty")
    if name != name.strip():
        raise InvalidInputError(f"{what} {name.strip()!r} must not start or end with white space")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    bad = _bad_character(name)
    if bad:
        raise InvalidInputError(f"{what} contains the control or invisible character {bad}")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInputError(f"{what} {name!r} must not contain path separators or be '.' or '..'")
    return name


def clean_text(value: str | None, what: str = "text") -> str | None:
    """Validate a free-text field (description, license, ...); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value)
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidInputError(f"{what} is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH}")
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL character")
    return text


def clean_tags(tags: object) -> tuple[str, ...]:
    """Validate tags; duplicates collapse, order of first appearance is kept."""
    if not tags:
        return ()
    if isinstance(tags, str):
        tags = (tags,)
    if not isinstance(tags, Iterable):
        raise InvalidInputError(f"tags must be text or a list of text, got {type(tags).__name__}")
    return tuple(dict.fromkeys(clean_name(tag, "tag") for tag in tags))


def clean_version_name(value: object) -> str:
    """Validate an explicit version name: not all digits, not a stage, not ``latest``, no ``@``."""
    name = clean_name(value, "version name")
    if _DIGITS.match(name):
        raise InvalidInputError(f"version name {name!r} is all digits; numbers are allocated by the registry")
    if name.casefold() in RESERVED_SELECTORS:
        raise InvalidInputError(f"version name {name!r} is reserved (a stage or 'latest')")
    if name.startswith("@"):
        raise InvalidInputError(f"version name {name!r} must not start with '@' (that marks an alias)")
    return name


def clean_alias(value: object) -> str:
    """Validate an alias; a leading ``@`` is accepted and dropped."""
    if isinstance(value, str) and value.startswith("@"):
        value = value[1:]
    alias = clean_name(value, "alias")
    if _DIGITS.match(alias) or alias.casefold() in RESERVED_SELECTORS:
        raise InvalidInputError(f"alias {alias!r} is reserved (a number, a stage or 'latest')")
    return alias


def is_number(text: str) -> bool:
    """True when ``text`` is all ASCII digits (a version number)."""
    return bool(_DIGITS.match(text))
