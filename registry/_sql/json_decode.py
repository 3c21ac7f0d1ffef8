"""Decoding the log's JSON texts fast, with exactly ``json.loads``'s results.

Replays (rebuild, import, past reads) decode one or two JSON objects per event, and
``json.loads`` was the largest single cost left in them. pydantic's JSON parser (pydantic
is already a dependency) decodes the same texts about twice as fast and gives equal values
for everything the store writes: strict JSON, NaN and Infinity, big integers, floats
round-tripped exactly. What it refuses (a lone UTF-16 surrogate escape, say) goes
to ``json.loads``, which either accepts it as before or raises its usual ``JSONDecodeError``.
The parser is imported on first use, so a CLI read that decodes nothing never pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _load_parser(text: str | bytes) -> Any:
    global _parse
    from pydantic_core import from_json

    _parse = from_json
    return from_json(text)


_parse: Callable[[str | bytes], Any] = _load_parser


def decode_json(text: str | bytes) -> Any:
    """The value of one JSON document, as ``json.loads`` would return it."""
    try:
        return _parse(text)
    except ValueError:
        return json.loads(text)
