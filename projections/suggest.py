"""Suggestions for a name that does not exist: the closest existing ones (``did you mean 'churn'?``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], count: int = 3) -> list[str]:
    """The candidates most like ``word`` (case-insensitively), best first."""
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(candidate.casefold(), candidate)
    return [by_key[k] for k in difflib.get_close_matches(word.casefold(), list(by_key), n=count, cutoff=0.6)]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` did you mean 'churn'?`` (empty when nothing is close)."""
    found = closest(word, candidates)
    if not found:
        return ""
    return " did you mean " + " or ".join(repr(name) for name in found) + "?"
