"""Version selectors: a number, a name, a stage, ``latest`` or ``@alias``.

``1`` and ``"1"`` both mean number 1. Kept free of heavy imports: the CLI and the
read side parse selectors too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelog.registry.errors import InvalidInputError
from modelog.registry.validation import STAGE_NAMES, clean_alias, clean_name, is_number

MAX_VERSION_NUMBER = 2**31 - 1


class SelectorKind(StrEnum):
    """How a selector picks a version."""

    NUMBER = "number"
    NAME = "name"
    STAGE = "stage"
    LATEST = "latest"
    ALIAS = "alias"


@dataclass(frozen=True)
class VersionSelector:
    """A parsed version selector."""

    kind: SelectorKind
    value: str | int | None = None

    def describe(self) -> str:
        """How the selector reads to a user (``version 3``, ``production version``...)."""
        if self.kind is SelectorKind.NUMBER:
            return f"version {self.value}"
        if self.kind is SelectorKind.NAME:
            return f"version named {self.value!r}"
        if self.kind is SelectorKind.STAGE:
            return f"{self.value} version"
        if self.kind is SelectorKind.ALIAS:
            return f"version @{self.value}"
        return "the latest version"


LATEST = VersionSelector(SelectorKind.LATEST)


def parse_version_number(value: int) -> int:
    """Check a version number is within 1 .. 2**31-1."""
    if value < 1 or value > MAX_VERSION_NUMBER:
        raise InvalidInputError(f"version number {value} is out of range (1 to {MAX_VERSION_NUMBER})")
    return value


def parse_selector(value: object) -> VersionSelector:
    """Parse a user-given selector; None means ``latest``."""
    if value is None:
        return LATEST
    if isinstance(value, VersionSelector):
        return value
    if isinstance(value, bool):
        raise InvalidInputError("a version selector cannot be a boolean")
    if isinstance(value, int):
        return VersionSelector(SelectorKind.NUMBER, parse_version_number(value))
    if not isinstance(value, str):
        raise InvalidInputError(f"a version selector must be a number or text, got {type(value).__name__}")
    return _parse_text(value.strip() if value.strip() else value)


def _parse_text(text: str) -> VersionSelector:
    if is_number(text):
        return VersionSelector(SelectorKind.NUMBER, parse_version_number(int(text)))
    lowered = text.casefold()
    if lowered == "latest":
        return LATEST
    if lowered in STAGE_NAMES:
        return VersionSelector(SelectorKind.STAGE, lowered)
    if text.startswith("@"):
        return VersionSelector(SelectorKind.ALIAS, clean_alias(text))
    if text.startswith("-") and is_number(text[1:]):
        raise InvalidInputError(f"version number {text} is out of range (1 to {MAX_VERSION_NUMBER})")
    return VersionSelector(SelectorKind.NAME, clean_name(text, "version name"))
