"""Log events as bulk passes need them: from a stored row, ``data`` decoded, ``meta`` only on first use."""

from __future__ import annotations

from typing import Any

from modelog.registry._sql.json_decode import decode_json
from modelog.registry.recorder import EventRow


class RowEvent:
    """A log event as a projector needs it: ``data`` decoded now, ``meta`` on first use.

    Built from ``(position, stream_id, event_type, schema_version, data, meta, recorded_at)``,
    the first columns a replay selects. Most projector handlers never read ``meta``, and a
    replay or an import builds one of these per event, so it is kept to the bare minimum.
    """

    __slots__ = ("position", "stream_id", "event_type", "schema_version", "data", "recorded_at", "_meta")
    _meta: str | dict[str, Any]

    def __init__(self, row: Any) -> None:
        self.position, self.stream_id, self.event_type, self.schema_version, data, self._meta, self.recorded_at = row
        self.data: dict[str, Any] = decode_json(data)

    @classmethod
    def of(cls, row: EventRow) -> RowEvent:
        """The event of a sealed row (an import's), picking the columns a replay selects."""
        return cls((row.position, row.stream_id, row.event_type, row.schema_version, row.data, row.meta,
                    row.recorded_at))

    @property
    def meta(self) -> dict[str, Any]:
        """The event's metadata (actor, command, correlation and run ids)."""
        if isinstance(self._meta, str):
            decoded: dict[str, Any] = decode_json(self._meta)
            self._meta = decoded
        return self._meta
