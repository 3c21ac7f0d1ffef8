"""Command de-duplication: each client-generated command id is applied once per server process.

A client sends every command with a fresh id (``X-Modelog-Command-Id``). The first request
with an id runs; its answer (unless the registry was unavailable: nothing was written, so a
retry may run again) is kept in a bounded, in-memory, least-recently-used map. A repeat of
the id gets that answer without running again; a repeat that arrives while the first is
still running waits for it. The same id with a different request is refused (409). The map
lives in one server process: it is lost on restart and not shared between ``--workers``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import Response

#: How many answered command ids a server process remembers.
CAPACITY = 10_000
_ID_LIMIT = 200


@dataclass(frozen=True)
class Answer:
    """What a command was answered: the request it answered (fingerprint), the status and the body."""

    fingerprint: str
    status: int
    body: bytes
    media_type: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Identifies a request, so that an id reused for another request is caught."""
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


class CommandLog:
    """The answers of recent commands, by command id (bounded; per process)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._running: dict[str, asyncio.Future[Answer | None]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    async def run(self, command_id: str | None, request_fingerprint: str,
                  execute: Callable[[], Awaitable[Response]],
                  refuse: Callable[[str], Response]) -> Response:
        """Answer a command once per id: run ``execute`` the first time, replay its answer after that."""
        if not command_id:
            return await execute()
        if len(command_id) > _ID_LIMIT:
            return refuse(f"command id is longer than {_ID_LIMIT} characters")
        while command_id in self._running:
            await asyncio.shield(self._running[command_id])
        known = self._answers.get(command_id)
        if known is not None:
            self._answers.move_to_end(command_id)
            if known.fingerprint != request_fingerprint:
                return refuse(f"command id {command_id!r} was already used for a different request")
            return _replay(known)
        waiting: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._running[command_id] = waiting
        kept = None
        try:
            response = await execute()
            if response.status_code < 500:
                kept = Answer(request_fingerprint, response.status_code, bytes(response.body),
                              response.media_type or "application/json")
                self._remember(command_id, kept)
            return response
        finally:
            del self._running[command_id]
            waiting.set_result(kept)

    def _remember(self, command_id: str, answered: Answer) -> None:
        self._answers[command_id] = answered
        while len(self._answers) > self.capacity:
            self._answers.popitem(last=False)


def _replay(known: Answer) -> Response:
    response = Response(known.body, status_code=known.status, media_type=known.media_type)
    response.headers["X-Modelog-Replayed"] = "true"
    return response
