"""The hash chain: each event's hash covers the previous hash and the event's stored form."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

GENESIS_HASH = "0" * 64



def _built_once(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, with the C encoder it builds on every call built once instead.

    ``json.dumps`` with options makes a new ``JSONEncoder`` per call, and ``encode`` makes a new
    C encoder per call: together they cost more than the encoding itself on the append and
    import hot paths. The output is the same; only the check for circular references is
    dropped (event data is plain JSON values, and a cycle still fails, with RecursionError).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return encoder.encode
    encode_text = json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring
    scan = make(None, encoder.default, encode_text, None, encoder.key_separator, encoder.item_separator,
                encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    return lambda value: "".join(scan(value, 0))


_CANONICAL = _built_once(json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False))
_COMPACT = _built_once(json.JSONEncoder(separators=(",", ":"), ensure_ascii=False))


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept as is."""
    return _CANONICAL(value)


def chain_hash(
    prev_hash: str,
    position: int,
    stream_id: str,
    stream_version: int,
    event_type: str,
    schema_version: int,
    data_text: str,
    meta_text: str,
    recorded_at: str,
) -> str:
    """The SHA-256 of the previous hash and every stored field of one event."""
    body = _COMPACT(
        [prev_hash, position, stream_id, stream_version, event_type, schema_version, data_text, meta_text, recorded_at]
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
