"""The server's fast path for hot live reads: answers kept while the log head has not moved.

A live read (no ``as_of`` / ``at_position``) of a version or a model is answered from the
encoded bytes of the same read made earlier, as long as the log's head position is still the
one read before that answer was computed. The read models are updated in the append
transaction, and appends commit in position order, so an unchanged head means unchanged read
models. The head is the one every request reads once when it is admitted
(:attr:`~modelog.server.state.RequestScope.head`), so a command committed by this server, by
another worker or by a local client is seen by the next read: a client reads its own writes.

A kept answer is served on the event loop (no thread hop); one not kept is computed on the
registry's thread and kept under the head its request read (never older than the answer). The
answers of one position live in one dictionary that is replaced, never emptied, when the head
moves, so the loop always sees one position's answers whole. At most :data:`CAPACITY` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from modelog.server.http import encode
from starlette.responses import Response

if TYPE_CHECKING:
    from modelog.server.state import RequestScope

#: Most answers kept at one head position (the oldest is dropped first beyond it).
CAPACITY = 4096


class ReadCache:
    """Encoded answers of live reads at one log head position."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._kept: tuple[int, dict[Hashable, bytes]] = (-1, {})

    def __len__(self) -> int:
        return len(self._kept[1])

    @property
    def position(self) -> int:
        """The head position the kept answers were read at (-1: none yet)."""
        return self._kept[0]

    def kept(self, head: int, key: Hashable) -> bytes | None:
        """The answer kept for ``key`` if it was read at ``head``."""
        position, answers = self._kept
        return answers.get(key) if position == head else None

    def answer(self, head: int, key: Hashable, read: Callable[[], Any]) -> bytes:
        """(On the registry's thread.) The encoded answer of ``read()``, run after ``head`` was read: the kept one
        if there is one at ``head``, else computed and kept under ``head``."""
        return self.produced(head, key, lambda: encode(read()))

    def produced(self, head: int, key: Hashable, produce: Callable[[], bytes]) -> bytes:
        """(On the registry's thread.) As :meth:`answer` with the bytes ``produce()`` makes (any encoding: the
        MLflow API keeps its own JSON here too)."""
        position, answers = self._kept
        if head == position:
            found = answers.get(key)
            if found is not None:
                return found
        body = produce()
        if head != position:  # moved on (or, a log replaced, back): the answers of the position before are gone
            answers = {}
            self._kept = (head, answers)
        if len(answers) >= self.capacity:
            del answers[next(iter(answers))]
        answers[key] = body
        return body


async def live_answer(scope: RequestScope, read: Callable[..., Any], *args: str) -> Response:
    """The JSON answer of the live read ``read(*args)`` (a use case of ``scope.api``): kept while the log head
    stands at the position read when the request was admitted. The principal's permission is checked on every
    request, a kept answer included: on the event loop when a registry-wide role settles it (memory only),
    else on the registry's thread (a per-model grant resolves the model's id from the log)."""
    cache, key = scope.state.read_cache, (read.__name__, *args)
    authorize = getattr(read, "authorize", None)  # a guarded use case
    body = cache.kept(scope.head, key)
    if body is not None and (authorize is None or scope.allowed_everywhere(read.__name__)):
        return Response(body, media_type="application/json")

    def answered() -> bytes:
        if authorize is not None:
            authorize(*args)
        return cache.answer(scope.head, key, lambda: read(*args))

    return Response(await scope.call(answered), media_type="application/json")


def is_live(params: Any) -> bool:
    """True when a read's query names no point in time (``as_of`` / ``at_position``)."""
    return not params.get("as_of") and not params.get("at_position")
