"""Rules for the metadata (metrics, parameters, notes) logged on a model version.

A value is a number, a string, a boolean, or a list / object of those, nested a few levels;
each logged batch and each value is bounded so that one event stays small. A *metric* is a
numeric value (not a boolean): those are what ``--sort-by metric:KEY`` and comparisons read.
"""

from __future__ import annotations

import json
import math
from typing import Any

from modelog.registry.errors import InvalidInputError
from modelog.registry.validation import clean_name

MAX_KEYS = 100
MAX_DEPTH = 5
MAX_STRING = 10_000
MAX_VALUE_BYTES = 16_384
MAX_BATCH_BYTES = 65_536


def is_metric(value: object) -> bool:
    """True for a finite number that is not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _clean_value(value: object, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidInputError(f"metadata {where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"metadata {where}: {value!r} is not a finite number")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise InvalidInputError(f"metadata {where}: text longer than {MAX_STRING} characters")
        return value
    if isinstance(value, list | tuple):
        return [_clean_value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {clean_name(key, f"metadata key in {where}"): _clean_value(item, f"{where}.{key}", depth + 1)
                for key, item in value.items()}
    raise InvalidInputError(f"metadata {where}: {type(value).__name__} is not a number, text, boolean, list or "
                            "object")


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def clean_metadata(values: object) -> dict[str, Any]:
    """Validate a batch of metadata: at least one key, bounded keys, values and size."""
    if not isinstance(values, dict):
        raise InvalidInputError("metadata must be an object of key: value")
    if not values:
        raise InvalidInputError("metadata is empty: give at least one key: value")
    if len(values) > MAX_KEYS:
        raise InvalidInputError(f"metadata has {len(values)} keys; at most {MAX_KEYS} can be logged at once")
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        name = clean_name(key, "metadata key")
        cleaned[name] = _clean_value(value, repr(name), 1)
        if _size(cleaned[name]) > MAX_VALUE_BYTES:
            raise InvalidInputError(f"metadata {name!r}: value larger than {MAX_VALUE_BYTES} bytes as JSON")
    if _size(cleaned) > MAX_BATCH_BYTES:
        raise InvalidInputError(f"metadata batch larger than {MAX_BATCH_BYTES} bytes as JSON")
    return cleaned


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` as typed on a command line: the value is JSON when it parses (0.93, true, {"a": 1}),
    otherwise the text itself."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInputError(f"metadata {text!r} is not KEY=VALUE")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if value is None:
        value = raw
    return key.strip(), value
