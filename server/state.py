"""What the server's handlers share: the registry's service API, the one thread that calls it, and who asks.

Every use case runs on one dedicated thread per server process: the registry's connections
(and SQLite's) are then only ever used from the thread that opened them, and commands are
applied one at a time per process, as a local client would. Processes (``--workers``) run
side by side as any number of local clients do, serialised by the log's append lock.

Each request is admitted first (:meth:`ServerState.admission`): the log's head position is read
once (:class:`~modelog.registry.head_watch.HeadWatch`, one statement on a connection of the
event loop's own), its API token is checked against the log
(:class:`~modelog.application.access.Authenticator`), and the
handlers get a :class:`RequestScope` whose registry checks every use case against the roles the
log grants the principal (:mod:`modelog.application.permissions`: 403 otherwise), records it as the
actor of every event it appends, and carries that head position: the read cache keeps
answers by it. While the log has not moved since the authenticator last read it, the decision is
made on the event loop from memory (no thread hop, no further query); when it has moved, on the
registry's thread, which reads the identity events appended since. So a token revoked, or a
principal disabled, by any process is refused on the very next request.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from modelog.application.access import Authenticator, Principal
from modelog.application.local import LocalRegistry
from modelog.application.permissions import Guard, GuardedRegistry
from modelog.application.results import Outcome
from modelog.registry.head_watch import HeadWatch
from modelog.server.access_log import PRINCIPAL_KEY
from modelog.server.dedup import CommandLog
from modelog.server.read_cache import ReadCache
from starlette.requests import Request

T = TypeVar("T")
_SCOPE = "modelog_scope"


class ServerState:
    """The registry a server process serves, the thread its use cases run on, its command log and read cache."""

    def __init__(self, open_registry: Callable[[], LocalRegistry]) -> None:
        self._open = open_registry
        self._registry: LocalRegistry | None = None
        self._authenticator: Authenticator | None = None
        self._heads: tuple[HeadWatch, HeadWatch] | None = None  # (the event loop's, the registry thread's)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelog-api")
        self.commands = CommandLog()
        self.read_cache = ReadCache()

    @property
    def api(self) -> LocalRegistry:
        """The registry (open once the server has started)."""
        if self._registry is None:
            raise RuntimeError("the registry is not open yet")
        return self._registry

    @property
    def authenticator(self) -> Authenticator:
        """The token checks (ready once the server has started)."""
        if self._authenticator is None:
            raise RuntimeError("the registry is not open yet")
        return self._authenticator

    async def call(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a use case on the registry's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(self._run, function, args, kwargs))

    def _run(self, function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        """(On the registry's thread.) ``function``; a command's appended events are handed to the authenticator, so
        the next request is not sent to this thread to read them back (see :meth:`Authenticator.advance`)."""
        done = function(*args, **kwargs)
        if isinstance(done, Outcome) and done.events and self._authenticator is not None:
            self._authenticator.advance(done.events)
        return done

    async def start(self) -> None:
        """Open the registry (creating or checking its schema) on the registry's thread."""
        self._registry = await self.call(self._open)
        engine = self._registry.reader.store.engine
        self._heads = (HeadWatch(engine), HeadWatch(engine))
        self._authenticator = Authenticator(self._registry.reader.store, head=self._heads[1],
                                            between=self._heads[1].events_between)
        await self.call(self._authenticator.refresh)

    async def head(self) -> int:
        """(On the event loop.) The log's head position now: one statement on the loop's kept connection."""
        if self._heads is None:
            raise RuntimeError("the registry is not open yet")
        watch = self._heads[0]
        if not watch.is_open:
            await self.call(watch.open)  # a connect can block for long: never on the event loop
        return watch()

    async def admission(self, token: str | None, claimed_actor: str | None) -> RequestScope:
        """(On the event loop.) Who presents ``token`` at the log's head position now (AuthenticationError
        otherwise), and the registry as that principal may use it (see :meth:`scope_for`)."""
        head = await self.head()
        principal = self.authenticator.authenticate_at(head, token)
        if principal is None:  # the log moved: the registry's thread reads what was appended
            principal = await self.call(self.authenticator.authenticate, token)
        return self.scope_for(principal, claimed_actor, head)

    def admit(self, token: str | None, claimed_actor: str | None, action: str | None = None) -> RequestScope:
        """(On the registry's thread.) As :meth:`admission`, for adapters already on that thread (the MLflow API,
        the web UI); ``action`` (the route) is not what is checked: the use cases it calls are."""
        principal = self.authenticator.authenticate(token)
        return self.scope_for(principal, claimed_actor, self.authenticator.position)

    def scope_for(self, principal: Principal, claimed_actor: str | None, head: int) -> RequestScope:
        """The registry as ``principal`` may use it: every use case checked against the roles the log grants
        (:mod:`modelog.application.permissions`: 403 otherwise), the principal the actor of every event."""
        guard = Guard(self.authenticator, principal.name)
        return RequestScope(self, principal, GuardedRegistry(self.api.acting_as(principal.name, claimed_actor), guard),
                            head)

    async def stop(self) -> None:
        """Close the registry on its thread, then stop the thread."""
        if self._heads is not None:
            self._heads[0].close()
            await self.call(self._heads[1].close)
        if self._registry is not None:
            await self.call(self._registry.close)
            self._registry = None
        self.executor.shutdown(wait=True)


@dataclass(frozen=True)
class RequestScope:
    """One admitted request: its principal, the registry acting as that principal, and the log's head position
    read when it was admitted (before anything it reads)."""

    state: ServerState
    principal: Principal
    api: GuardedRegistry
    head: int

    @property
    def commands(self) -> CommandLog:
        """The process's command de-duplication log."""
        return self.state.commands

    async def call(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a use case on the registry's thread."""
        return await self.state.call(function, *args, **kwargs)

    def allowed_everywhere(self, use_case: str) -> bool:
        """True when the principal holds ``use_case``'s role registry-wide (decided from memory, any thread)."""
        return self.api.guard.allowed_everywhere(use_case)


def server_state(request: Request) -> ServerState:
    """The server state of the app serving ``request``."""
    found = request.app.state.modelog
    if not isinstance(found, ServerState):
        raise RuntimeError("the app has no modelog server state")
    return found


def state_of(request: Request) -> RequestScope:
    """The admitted request's scope (every API route is admitted before its handler runs)."""
    found = request.scope.get("state", {}).get(_SCOPE)
    if not isinstance(found, RequestScope):
        raise RuntimeError("the request was not admitted")
    return found


def admitted(request: Request, scope: RequestScope) -> None:
    """Record the request's scope (see :func:`state_of`), and its principal for the access line."""
    setattr(request.state, _SCOPE, scope)
    request.scope[PRINCIPAL_KEY] = scope.principal.name
