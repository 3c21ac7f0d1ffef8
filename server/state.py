"""What the server's handlers share: the registry's service API and the one thread that calls it.

Every use case runs on one dedicated thread per server process: the registry's connections
(and SQLite's) are then only ever used from the thread that opened them, and commands are
applied one at a time per process, as a local client would. Processes (``--workers``) run
side by side as any number of local clients do, serialised by the log's append lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from modelog.application.local import LocalRegistry
from modelog.server.dedup import CommandLog
from modelog.server.read_cache import ReadCache
from starlette.requests import Request

T = TypeVar("T")


class ServerState:
    """The registry a server process serves, the thread its use cases run on, its command log and read cache."""

    def __init__(self, open_registry: Callable[[], LocalRegistry]) -> None:
        self._open = open_registry
        self._registry: LocalRegistry | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelog-api")
        self.commands = CommandLog()
        self.read_cache = ReadCache()  # used on the registry's thread only

    @property
    def api(self) -> LocalRegistry:
        """The registry (open once the server has started)."""
        if self._registry is None:
            raise RuntimeError("the registry is not open yet")
        return self._registry

    async def call(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a use case on the registry's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(function, *args, **kwargs))

    async def start(self) -> None:
        """Open the registry (creating or checking its schema) on the registry's thread."""
        self._registry = await self.call(self._open)

    async def stop(self) -> None:
        """Close the registry on its thread, then stop the thread."""
        if self._registry is not None:
            await self.call(self._registry.close)
            self._registry = None
        self.executor.shutdown(wait=True)


def state_of(request: Request) -> ServerState:
    """The server state of the app serving ``request``."""
    found = request.app.state.modelog
    if not isinstance(found, ServerState):
        raise RuntimeError("the app has no modelog server state")
    return found
