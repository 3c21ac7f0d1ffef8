"""Helpers for tests that forge exported logs: re-chain edited records so only the rules can catch the edit."""

from __future__ import annotations

from typing import Any

from modelog.registry.hashing import GENESIS_HASH, canonical_json, chain_hash

#: One exported event line, as JSON.
Record = dict[str, Any]


def rechained(records: list[Record]) -> list[Record]:
    """``records`` with every ``prev_hash`` / ``hash`` recomputed in order (a consistent re-hash of an edited log)."""
    prev = GENESIS_HASH
    for r in records:
        r["prev_hash"] = prev
        r["hash"] = prev = chain_hash(prev, r["position"], r["stream_id"], r["stream_version"], r["event_type"],
                                      r["schema_version"], canonical_json(r["data"]), canonical_json(r["meta"]),
                                      r["recorded_at"])
    return records
