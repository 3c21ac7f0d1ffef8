"""The ``event_signatures`` table as the SQL recorder writes it and a signature check reads it."""

from __future__ import annotations

from collections.abc import Sequence

from modelog.registry._sql.driver import DriverStatement, PositionalInsert
from modelog.registry.schema import event_signatures, events
from modelog.registry.signing import SignedHash
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

_INSERT = PositionalInsert(event_signatures)
_s, _e = event_signatures.c, events.c
_READ_SIGNED = DriverStatement(
    select(_e.position, _e.hash, _s.key_id, _s.signature)
    .select_from(events.outerjoin(event_signatures, _s.position == _e.position))
    .where(_e.position >= bindparam("start")).order_by(_e.position).limit(bindparam("size")))


_FIRST_SIGNED = DriverStatement(select(_s.position).order_by(_s.position).limit(1))


def first_signed_position(conn: Connection) -> int | None:
    """The first position that carries a signature (None: signing never began on this log)."""
    rows = _FIRST_SIGNED.fetchall(conn)
    return int(rows[0][0]) if rows else None


def insert_signatures(conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
    """Insert ``(position, key_id, signature)`` rows in one driver ``executemany``."""
    _INSERT.executemany(conn, rows)


def read_signed_batch(conn: Connection, start: int, size: int) -> list[SignedHash]:
    """Up to ``size`` events from position ``start`` on: position, hash and the signature stored for each."""
    return [SignedHash(int(p), h, k, s) for p, h, k, s in _READ_SIGNED.fetchall(conn, {"start": start, "size": size})]
