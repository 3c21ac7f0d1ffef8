"""The hash chain: each event's hash covers the previous hash and the event's stored form."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64

# Built once: json.dumps with non-default options constructs a new encoder on every call,
# which costs more than the encoding itself on the append and import hot paths.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept as is."""
    return _CANONICAL.encode(value)


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
    body = _COMPACT.encode(
        [prev_hash, position, stream_id, stream_version, event_type, schema_version, data_text, meta_text, recorded_at]
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
