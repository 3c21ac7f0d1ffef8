"""The ASGI app: the route table mounted on Starlette, errors as JSON, access logs, start-up and shutdown.

``create_app()`` serves the registry configured as for any local client (``$MODELOG_HOME`` /
``$MODELOG_DATABASE_URL`` and the home's artifact store; ``$MODELOG_URL`` is ignored here: the
server is where remote clients arrive). uvicorn runs it (``modelog server``); on SIGTERM uvicorn
stops accepting connections, lets requests in flight finish, and the lifespan closes the registry.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from modelog.application.bootstrap import open_reader
from modelog.application.http_errors import METHOD_NOT_ALLOWED, UNKNOWN_ROUTE
from modelog.application.local import LocalRegistry
from modelog.application.remote import ACTOR_HEADER
from modelog.registry.errors import RegistryError, as_registry_error
from modelog.registry.logs import get_logger
from modelog.server import mlflow_api
from modelog.server.access_log import AccessLog, configure_access_logs
from modelog.server.hot_reads import HotReads
from modelog.server.http import HTTPRefusal, bearer_token, error_response, registry_error_response
from modelog.server.openapi import document
from modelog.server.routes import ENDPOINTS, PREFIX, Handler
from modelog.server.state import ServerState, admitted, server_state
from modelog.ui.app import ui_routes
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

_log = get_logger("modelog.server")


def _version() -> str:
    try:
        return version("modelog")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "0"


def open_configured_registry() -> LocalRegistry:
    """The registry configured for this process (never a remote one), opened for writing.

    With ``MODELOG_SIGNING_KEY`` set, the key is read now: a key file that cannot be used stops the
    server before it listens, not at its first append.
    """
    registry = LocalRegistry(open_reader(None, read_only_fallback=True), actor=os.environ.get("MODELOG_ACTOR"))
    signer = registry.reader.store.signer
    try:
        if signer is not None:
            _log.info("signing appended events", key_id=signer.key_id)
    except BaseException:
        registry.close()
        raise
    return registry


async def _health(request: Request) -> Response:
    state = server_state(request)
    head = await state.call(state.api.log_head)
    return JSONResponse({"status": "ok", "schema": "current", "head": head.position})


async def _openapi(request: Request) -> Response:
    return JSONResponse(document(_version()))


async def _registry_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RegistryError)
    return registry_error_response(error)


def _admitting(handler: Handler) -> Handler:
    """``handler`` run only for a request whose API token the log vouches for (401 otherwise; each use case then
    checks the principal's roles: 403)."""
    async def endpoint(request: Request) -> Response:
        state = server_state(request)
        claimed = request.headers.get(ACTOR_HEADER) or None
        admitted(request, await state.admission(bearer_token(request), claimed))
        return await handler(request)
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _refusal(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPRefusal)
    return error_response(error.status, error.code, error.message)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_response(UNKNOWN_ROUTE, "unknown_route", f"no such route: {request.method} {request.url.path}")
    if error.status_code == 405:
        return error_response(METHOD_NOT_ALLOWED, "method_not_allowed",
                              f"{request.method} is not allowed on {request.url.path}")
    return error_response(error.status_code, "http_error", str(error.detail))


async def _unexpected(request: Request, error: Exception) -> Response:
    known = as_registry_error(error)  # text that is not Unicode, a number out of range: the caller's input
    if known is not None:
        return registry_error_response(known)
    _log.error("unexpected error", method=request.method, path=request.url.path, exc_info=error)
    return error_response(500, "internal", f"unexpected {type(error).__name__}: {error}")


def create_app(open_registry: Callable[[], LocalRegistry] | None = None) -> Starlette:
    """The server's ASGI app over the configured registry (or the one ``open_registry`` opens)."""
    access = configure_access_logs()
    state = ServerState(open_registry or open_configured_registry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        _log.info("serving", head=(await state.call(state.api.log_head)).position)
        # What start-up loaded lives as long as the process: out of the collector's sight, a full collection
        # later (they come with commands) scans only what was made since.
        gc.collect()
        gc.freeze()
        if not state.authenticator.principal_count:
            _log.warning("no principal exists yet: every API request will be refused (401) until an operator "
                         "runs 'modelog principal add NAME' and 'modelog token create NAME' on this registry")
        try:
            yield
        finally:
            await state.stop()
            access.close()  # the last requests' lines before the last line
            _log.info("stopped")

    routes: list[BaseRoute] = [mlflow_api.MlflowRoutes(),  # first: one prefix check for every other request
                               Route("/health", _health, methods=["GET"]),
                               Route(f"{PREFIX}/openapi.json", _openapi, methods=["GET"])]
    routes += [Route(e.path, _admitting(e.handler), methods=[e.method]) for e in ENDPOINTS]
    routes += ui_routes()  # the web UI under /ui (docs/ui.md)
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        RegistryError: _registry_error, HTTPRefusal: _refusal, HTTPException: _http_error, Exception: _unexpected,
    })
    app.state.modelog = state
    app.add_middleware(HotReads, state=state)  # inside the access log: hot reads are logged too
    app.add_middleware(AccessLog, lines=access)
    return app
