"""Audit anchors: a (position, hash) pair recorded from the log's head, checked again later.

The hash chain alone proves the log is internally consistent, not that it is the same log:
someone who truncates it, or rewrites events and recomputes every hash after them, leaves a
chain that verifies. An auditor who wrote down ``position:hash`` earlier catches both, because
the stored hash at that position no longer matches (or the position is gone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from modelog.registry.database import transaction
from modelog.registry.errors import InvalidInputError
from modelog.registry.hashing import GENESIS_HASH
from modelog.registry.store import EventStore
from sqlalchemy.engine import Connection

_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Anchor:
    """The hash the log held at ``position`` when the anchor was taken (position 0: the empty log)."""

    position: int
    hash: str

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"


def parse_anchor(text: str) -> Anchor:
    """Parse ``POSITION:HASH`` (a whole number >= 0 and a 64-digit hex SHA-256); InvalidInputError otherwise."""
    position, sep, digest = str(text).strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not position.strip().isdigit() or not position.strip().isascii():
        raise InvalidInputError(f"anchor {text!r} is not POSITION:HASH (e.g. 42:<64 hex digits>)")
    if not _HASH.fullmatch(digest):
        raise InvalidInputError(f"anchor {text!r} has no valid hash: expected 64 hex digits after the colon")
    return Anchor(int(position), digest)


def head_anchor(store: EventStore, at_position: int | None = None) -> Anchor:
    """The anchor of the log's last event (or of ``at_position``): what an auditor writes down."""
    with transaction(store.engine) as conn:
        position = store.head(conn) if at_position is None else at_position
        found = _hash_at(store, conn, position)
    if found is None:
        raise InvalidInputError(f"log position {position} does not exist")
    return Anchor(position, found)


def check_anchors(store: EventStore, anchors: Iterable[Anchor]) -> str | None:
    """Why the log no longer matches one of ``anchors`` (the lowest position first), or None if all match."""
    with transaction(store.engine) as conn:
        head = store.head(conn)
        for anchor in sorted(set(anchors), key=lambda a: a.position):
            problem = _mismatch(anchor, head, _hash_at(store, conn, anchor.position))
            if problem:
                return problem
    return None


def _hash_at(store: EventStore, conn: Connection, position: int) -> str | None:
    if position == 0:
        return GENESIS_HASH
    found = next(iter(store.read_all(from_position=position, to_position=position, limit=1, conn=conn)), None)
    return None if found is None else found.hash


def _mismatch(anchor: Anchor, head: int, stored: str | None) -> str | None:
    if anchor.position > head:
        return (f"anchor at position {anchor.position} is beyond the end of the log (last position {head}): "
                "the log was truncated since the anchor was taken")
    if stored is None:
        return f"anchor at position {anchor.position}: the log holds no event there (deleted)"
    if stored != anchor.hash:
        return (f"anchor at position {anchor.position} does not match: the log holds hash {stored[:16]}..., "
                f"the anchor says {anchor.hash[:16]}...: the log was rewritten since the anchor was taken")
    return None
