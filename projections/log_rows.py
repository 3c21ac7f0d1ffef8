"""Log events as replays of one model need them: one stream read raw, the runs a model's stream links, and
the renames a replay of runs alone needs.

The raw batched reads themselves live with the SQL recorder's other fast paths
(``modelog.registry._sql.batches``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelog.registry._sql.batches import read_type_rows
from modelog.registry._sql.raw_events import RowEvent
from modelog.registry.store import EventStore
from modelog.registry.vocabulary import EventType
from sqlalchemy.engine import Connection

_RUN_LINKED = EventType.PIPELINE_RUN_LINKED.value
_RENAMED = EventType.MODEL_RENAMED.value


def stream_events(store: EventStore, stream_id: str, until: int, conn: Connection) -> list[RowEvent]:
    """One stream up to position ``until`` in version order, read raw through the store's stream read."""
    return [RowEvent(row) for row in store.read_stream_rows(stream_id, until, conn)]


def linked_run_ids(stream: Sequence[Any]) -> list[str]:
    """The ids of the runs linked in a model's stream (events with decoded ``data``), sorted."""
    return sorted({e.data["run_id"] for e in stream if e.event_type == _RUN_LINKED})


def model_renames(conn: Connection, until: int) -> list[RowEvent]:
    """Every model's renames up to position ``until``, in log order.

    A replay of runs alone needs them: a run shows its model's name, which follows the model's renames.
    """
    return [RowEvent(row) for row in read_type_rows(conn, _RENAMED, until)]
