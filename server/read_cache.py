"""The server's fast path for hot live reads: answers kept while the log head has not moved.

A live read (no ``as_of`` / ``at_position``) of a version or a model is answered from the
encoded bytes of the same read made earlier, as long as the log's head position is still the
one read just before that answer was computed. The read models are updated in the append
transaction, so an unchanged head means unchanged read models; every request reads the head
again (one indexed query), so a command committed by this server, by another worker or by a
local client is seen by the next read: a client reads its own writes. Everything here runs on
the registry's one thread (:class:`~modelog.server.state.ServerState`), so the cache needs no
lock, and it holds at most :data:`CAPACITY` answers, all dropped when the head moves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from modelog.application.local import LocalRegistry
from modelog.server.http import encode
from starlette.responses import Response

if TYPE_CHECKING:
    from modelog.server.state import ServerState

#: Most answers kept at one head position (the oldest is dropped first beyond it).
CAPACITY = 4096


class ReadCache:
    """Encoded answers of live reads at one log head position."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.position = -1
        self._answers: dict[Hashable, bytes] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def answer(self, api: LocalRegistry, key: Hashable, read: Callable[[], Any]) -> bytes:
        """The encoded answer of ``read()`` (on the registry's thread): kept one if the head has not moved."""
        return self.kept(api, key, lambda: encode(read()))

    def kept(self, api: LocalRegistry, key: Hashable, produce: Callable[[], bytes]) -> bytes:
        """The bytes ``produce()`` made for ``key`` at the current head (on the registry's thread): made again only
        once the head has moved (any encoding: the MLflow API keeps its own JSON here too)."""
        head = api.head_position()
        if head != self.position:
            # Read at ``head`` or later: an answer computed now is never older than the position it is kept under.
            self._answers.clear()
            self.position = head
        found = self._answers.get(key)
        if found is None:
            found = produce()
            if len(self._answers) >= self.capacity:
                del self._answers[next(iter(self._answers))]
            self._answers[key] = found
        return found


async def live_answer(state: ServerState, read: Callable[..., Any], *args: str) -> Response:
    """The JSON answer of the live read ``read(*args)`` (a use case of ``state.api``), from the cache while the
    log head stands still."""
    cache = state.read_cache
    authorize = getattr(read, "authorize", None)  # a guarded use case: checked even when answered from the cache

    def answered() -> bytes:
        if authorize is not None:
            authorize(*args)
        return cache.answer(state.api, (read.__name__, *args), lambda: read(*args))

    body = await state.call(answered)
    return Response(body, media_type="application/json")


def is_live(params: Any) -> bool:
    """True when a read's query names no point in time (``as_of`` / ``at_position``)."""
    return not params.get("as_of") and not params.get("at_position")
