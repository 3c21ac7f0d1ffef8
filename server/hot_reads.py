"""The hot live reads, answered ahead of the framework when their answer is kept.

``GET /api/v1/models/{model}/versions/{version}`` and ``GET /api/v1/models/{model}`` without a
query string (live reads: a deployed consumer asking for the version an alias or a stage names,
again and again) are the server's hot path. Starlette's routing (a regular expression per route,
in order), its request objects and exception wrappers and the request scope's registry view cost
more server CPU than answering from the read cache itself. :class:`HotReads` answers such a
request from the kept bytes only when everything the ordinary path checks is settled from memory,
in the same way and in the same order:

* the log's head is read once for this request (:meth:`ServerState.head`: read-your-writes, and a
  token revoked or a principal disabled by any process has moved it);
* the token is decided at that head (:meth:`Authenticator.authenticate_at`: expiry re-checked);
* the principal holds the read's role registry-wide (:meth:`Guard.allowed_everywhere`, the same
  check :func:`~modelog.server.read_cache.live_answer` makes on a kept answer);
* the read cache keeps the answer at that head, under the key the ordinary handler uses.

Anything else (no kept answer, a refusal of any kind, a per-model grant to resolve, a query
string, another route, a head that cannot be read) goes on to the app untouched, which decides it
from scratch: its errors, statuses and JSON are the ordinary path's own.
"""

from __future__ import annotations

from modelog.application.access import Principal
from modelog.application.permissions import Guard
from modelog.registry.errors import RegistryError
from modelog.server.access_log import PRINCIPAL_KEY
from modelog.server.http import bearer_of
from modelog.server.routes import PREFIX
from modelog.server.state import ServerState
from starlette.types import ASGIApp, Receive, Scope, Send

_MODELS = PREFIX + "/models/"


def hot_key(path: str) -> tuple[str, ...] | None:
    """The read cache key of a hot read's path (what the ordinary handler keys its answer by), or None.

    The segments are those Starlette's ``{model}`` / ``{version}`` parameters match (``[^/]+``).
    """
    if not path.startswith(_MODELS):
        return None
    parts = path[len(_MODELS):].split("/")
    if len(parts) == 1 and parts[0]:
        return ("get_model", parts[0])
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return ("get_version", parts[0], parts[2])
    return None


class HotReads:
    """ASGI middleware: a hot live read answered from the read cache when its answer is kept (module docstring)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"] \
                and not scope.get("root_path"):
            key = hot_key(scope["path"])
            if key is not None:
                found = await self._kept(key, scope)
                if found is not None:
                    principal, body = found
                    scope[PRINCIPAL_KEY] = principal.name
                    # what Response(body, media_type="application/json") sends, without building one
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-length", str(len(body)).encode("latin-1")), (b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _kept(self, key: tuple[str, ...], scope: Scope) -> tuple[Principal, bytes] | None:
        """The principal and the kept answer, when the ordinary path would serve exactly that from memory."""
        state = self.state
        authorization = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        try:
            head = await state.head()
            principal = state.authenticator.authenticate_at(
                head, bearer_of(None if authorization is None else authorization.decode("latin-1")))
        except RegistryError:  # refused, or the database: the ordinary path answers it
            return None
        if principal is None or not Guard(state.authenticator, principal.name).allowed_everywhere(key[0]):
            return None
        body = state.read_cache.kept(head, key)
        return None if body is None else (principal, body)
