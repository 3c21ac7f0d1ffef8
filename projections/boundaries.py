"""Command boundaries in the log: where a point-in-time read may stand.

One command (one write transaction) can append several events: a forced promotion archives the old
production version, then promotes the new one. A position between them names a state that was never
committed, so ``--at-position`` / ``at_position=`` reads resolve a position inside a command *down* to
the end of the command before it: the newest committed state that holds no event after the position
asked for. A position at a command's last event (and the log's head) is a boundary already.

How the log tells where a command ends:

* Events appended since this rule carry ``meta["span"] = [first, last]``: the first and last positions
  of their transaction (written by the unit of work, inside the hash like all meta).
* Older events have no span. All events of one transaction share the same meta (with its
  ``correlation_id``) and the same ``recorded_at``, so contiguous events with identical meta (that holds
  a correlation id) and time are taken as one command. Events without a correlation id (appended by
  tools, not commands) are each a boundary.

Times need no resolving: every event of a transaction has the same ``recorded_at``, so the last event
recorded by a moment always ends a command.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from modelog.registry._sql.driver import DriverStatement
from modelog.registry._sql.json_decode import decode_json
from modelog.registry.database import transaction
from modelog.registry.schema import events
from modelog.registry.store import EventStore
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

_WALK_BACK = 64  # events read per step when finding where an old command began


class Marked(Protocol):
    """What telling command boundaries reads of an event (a ``StoredEvent`` has it)."""

    @property
    def position(self) -> int: ...  # noqa: D102 - the event's own fields
    @property
    def meta(self) -> dict[str, Any]: ...  # noqa: D102
    @property
    def recorded_at(self) -> str: ...  # noqa: D102


class _Mark(NamedTuple):
    position: int
    meta: dict[str, Any]
    recorded_at: str


#: An event and the one after it: only the columns that tell a boundary (no data, no hashes to decode).
_PAIR = DriverStatement(select(events.c.position, events.c.meta, events.c.recorded_at)
                        .where(events.c.position >= bindparam("at")).order_by(events.c.position).limit(2))


def span_of(event: Marked) -> tuple[int, int] | None:
    """The ``[first, last]`` positions of the event's transaction as its meta records them (None: not recorded)."""
    found: Any = event.meta.get("span")
    if (isinstance(found, list) and len(found) == 2 and all(type(p) is int for p in found)
            and found[0] <= event.position <= found[1]):
        return found[0], found[1]
    return None


def _same_command(one: Marked, other: Marked) -> bool:
    return bool(one.meta.get("correlation_id")) and one.meta == other.meta and one.recorded_at == other.recorded_at


def command_boundary(store: EventStore, position: int, conn: Connection | None = None) -> int:
    """The last command boundary at or before ``position`` (``position`` itself when a command ends there).

    ``conn``: read in that transaction (one compiled statement on the caller's connection, the cheap path
    of a point-in-time read) rather than in one of its own. A position past the log's end is returned as
    it is (the caller checks the range, or uses :func:`boundary_in_log`).
    """
    if conn is None:
        with transaction(store.engine) as own:
            return command_boundary(store, position, own)
    found = boundary_in_log(store, position, conn)
    return position if found is None else found


def boundary_in_log(store: EventStore, position: int, conn: Connection) -> int | None:
    """:func:`command_boundary`, or None when ``position`` is past the log's end.

    One statement tells both (the event at ``position`` and the next): a past read needs no separate
    read of the log's head to check its position, one round trip fewer on a server database.
    """
    if position <= 0:
        return 0
    pair = [_Mark(int(p), decode_json(meta), at) for p, meta, at in _PAIR.fetchall(conn, {"at": position})]
    if not pair:
        return None
    if len(pair) < 2:
        return position  # the log's head
    here, after = pair
    span = span_of(here)
    if span is not None:
        return position if span[1] == position else span[0] - 1
    if span_of(after) is not None or not _same_command(here, after):
        return position
    return _start_of(store, here, conn) - 1


def _start_of(store: EventStore, event: Marked, conn: Connection | None = None) -> int:
    """Where the old-style command holding ``event`` began (contiguous events with the same meta and time)."""
    start = event.position
    while start > 1:
        earlier = list(store.read_all(from_position=max(1, start - _WALK_BACK), to_position=start - 1, conn=conn))
        for previous in reversed(earlier):
            if not _same_command(previous, event):
                return start
            start = previous.position
    return start
