"""MLflow's Model Registry REST API (``/api/2.0/mlflow/...``) on ``modelog server``: an adapter.

Each route parses MLflow's request (query parameters for GET, a JSON body otherwise), admits
the request by its ``Authorization: Bearer`` token like every API route, calls one use case of
:class:`~modelog.application.mlflow.MlflowRegistry` on the registry's thread (acting as the
token's principal, so every call is an event by that principal) and answers MLflow's JSON.
Refusals are MLflow's ``{"error_code", "message"}`` with its HTTP statuses, so ``MlflowClient``
raises the ``MlflowException`` its users expect. A live GET this principal already made at the
log's current position is answered from the server's read cache on the event loop (see
:func:`_live_read`); every route is found by one dictionary look-up (:class:`MlflowRoutes`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from modelog.application.mlflow import MlflowModel, MlflowRegistry, MlflowVersion
from modelog.application.remote import ACTOR_HEADER
from modelog.registry.errors import (
    AuthenticationError,
    ConcurrencyError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    StorageError,
    as_registry_error,
)
from modelog.server.http import HTTPRefusal, bearer_token, dumps, read_body
from modelog.server.state import RequestScope, ServerState, admitted, server_state
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

PREFIX = "/api/2.0/mlflow"
#: What a registry refusal is called in MLflow, and its HTTP status (most specific class first).
_CODES: tuple[tuple[type[RegistryError], str, int], ...] = (
    (InvalidInputError, "INVALID_PARAMETER_VALUE", 400),
    (NotFoundError, "RESOURCE_DOES_NOT_EXIST", 404),
    (ConcurrencyError, "ABORTED", 409),
    (ConflictError, "INVALID_STATE", 400),
    (AuthenticationError, "UNAUTHENTICATED", 401),
    (PermissionDeniedError, "PERMISSION_DENIED", 403),
    (StorageError, "TEMPORARILY_UNAVAILABLE", 503),
)
Call = Callable[[MlflowRegistry, "Params"], Any]


def mlflow_error(status: int, code: str, message: str) -> Response:
    """MLflow's error answer."""
    response = Response(dumps({"error_code": code, "message": message}), status_code=status,
                        media_type="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelog"'
    return response


def error_of(error: RegistryError, conflict_code: str = "INVALID_STATE") -> Response:
    """The MLflow answer for a registry refusal (``conflict_code``: what a conflict means for this call)."""
    for kind, code, status in _CODES:
        if isinstance(error, kind):
            return mlflow_error(status, conflict_code if kind is ConflictError else code, str(error))
    return mlflow_error(500, "INTERNAL_ERROR", str(error))


class Params:
    """The fields of an MLflow request: its query parameters (GET) or its JSON object body."""

    def __init__(self, data: dict[str, Any], multi: dict[str, list[str]] | None = None) -> None:
        self.data, self.multi = data, multi or {}

    @classmethod
    def of_body(cls, raw: bytes) -> Params:
        """The fields of a JSON object body (an empty body: none)."""
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInputError(f"request body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise InvalidInputError("request body must be a JSON object")
        return cls(data)

    def text(self, name: str) -> str:
        """A required text field."""
        value = self.data.get(name)
        if value is None or value == "":
            raise InvalidInputError(f"missing value for required parameter '{name}'")
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidInputError(f"invalid value {value!r} for parameter '{name}': it must be text")
        return str(value)

    def opt_text(self, name: str) -> str | None:
        """An optional text field."""
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"invalid value {value!r} for parameter '{name}': it must be text")
        return value

    def flag(self, name: str) -> bool:
        """A boolean field (JSON true/false, or ``true`` / ``false`` in a query)."""
        value = self.data.get(name, False)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InvalidInputError(f"invalid value {value!r} for parameter '{name}': it must be true or false")
        return value

    def count(self, name: str) -> int | None:
        """An optional whole number."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise InvalidInputError(f"invalid value {value!r} for parameter '{name}': it must be a whole number")

    def texts(self, name: str) -> list[str]:
        """A list of text (repeated query parameters, or a JSON list)."""
        value = self.multi.get(name) if name in self.multi else self.data.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInputError(f"invalid value for parameter '{name}': it must be a list of text")
        return value

    def tags(self) -> list[tuple[str, str]]:
        """MLflow's ``tags``: a list of ``{"key", "value"}``."""
        found = self.data.get("tags") or []
        if not isinstance(found, list) or not all(isinstance(t, dict) and isinstance(t.get("key"), str)
                                                  and isinstance(t.get("value", ""), str) for t in found):
            raise InvalidInputError("invalid value for parameter 'tags': it must be a list of {key, value}")
        return [(t["key"], t.get("value", "")) for t in found]


def _tags_json(tags: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags]


def version_json(v: MlflowVersion) -> dict[str, Any]:
    """A model version in MLflow's JSON (as MLflow's own server writes it, no empty lists: each field costs the
    client a protobuf conversion, ~1,000 per search page)."""
    data: dict[str, Any] = {
        "name": v.name, "version": str(v.version), "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp, "current_stage": v.current_stage, "source": v.source,
        "status": "READY"}
    if v.tags:
        data["tags"] = _tags_json(v.tags)
    if v.aliases:
        data["aliases"] = list(v.aliases)
    if v.user_id is not None:
        data["user_id"] = v.user_id
    if v.description is not None:
        data["description"] = v.description
    if v.run_id is not None:
        data["run_id"] = v.run_id
    return data


def model_json(m: MlflowModel) -> dict[str, Any]:
    """A registered model in MLflow's JSON."""
    data: dict[str, Any] = {
        "name": m.name, "creation_timestamp": m.creation_timestamp, "last_updated_timestamp": m.last_updated_timestamp,
        "latest_versions": [version_json(v) for v in m.latest_versions], "tags": _tags_json(m.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in m.aliases]}
    if m.user_id is not None:
        data["user_id"] = m.user_id
    if m.description is not None:
        data["description"] = m.description
    return data


@dataclass(frozen=True)
class MlflowRoute:
    """One MLflow endpoint: its path and method, the use case it calls, what a conflict is called there."""

    method: str
    path: str
    call: Call
    conflict_code: str = "INVALID_STATE"


def endpoint(route: MlflowRoute) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of a route: admit, parse, call the use case on the registry's thread, answer."""
    action = f"{route.method} {route.path}"

    async def serve(request: Request) -> Response:
        state = server_state(request)
        try:
            token, claimed = bearer_token(request), request.headers.get(ACTOR_HEADER) or None
            if request.method == "GET":
                scope, body = await _live_read(state, route, request, token, claimed)
            else:
                params = Params.of_body(await read_body(request))

                def run() -> tuple[RequestScope, bytes]:  # one trip to the registry's thread: admit, then serve
                    scope = state.admit(token, claimed, action)
                    return scope, dumps(route.call(MlflowRegistry(scope.api), params))

                scope, body = await state.call(run)
            admitted(request, scope)  # the access log names the principal
        except RegistryError as error:
            return error_of(error, route.conflict_code)
        except HTTPRefusal as refusal:
            return mlflow_error(refusal.status, "INVALID_PARAMETER_VALUE", refusal.message)
        except (UnicodeError, OverflowError) as error:
            known = as_registry_error(error)
            if known is None:
                raise
            return error_of(known)
        return Response(body, media_type="application/json")
    serve.__doc__ = f"MLflow's {route.method} {route.path}."
    return serve


async def _live_read(state: ServerState, route: MlflowRoute, request: Request, token: str | None,
                     claimed: str | None) -> tuple[RequestScope, bytes]:
    """A GET: admitted on the event loop (from memory while the log stands still), answered from the read cache
    there when this principal made the same read at this head position, else on the registry's thread.

    Keyed by principal: a kept answer was made by the same principal's use cases, permission checks
    included, at the same log position, hence under the same grants (a grant or revocation moves the log).
    """
    query = request.query_params
    params = Params(dict(query), {key: query.getlist(key) for key in query})
    scope = await state.admission(token, claimed)
    key = ("mlflow", scope.principal.name, route.path, tuple(sorted((k, tuple(v)) for k, v in params.multi.items())))
    body = state.read_cache.kept(scope.head, key)
    if body is None:
        body = await state.call(state.read_cache.produced, scope.head, key,
                                lambda: dumps(route.call(MlflowRegistry(scope.api), params)))
    return scope, body


async def unknown_endpoint(request: Request) -> Response:
    """Any other path under MLflow's prefix (its tracking API: experiments, runs, ...), in MLflow's error form."""
    return mlflow_error(404, "ENDPOINT_NOT_FOUND", f"modelog serves MLflow's Model Registry API only: no "
                                                   f"{request.method} {request.url.path} (see docs/mlflow.md)")


def _done(_: Any) -> dict[str, Any]:
    return {}


def _search_models(r: MlflowRegistry, p: Params) -> dict[str, Any]:
    found = r.search_models(p.opt_text("filter"), p.count("max_results"), p.texts("order_by"),
                            p.opt_text("page_token"))
    data: dict[str, Any] = {"registered_models": [model_json(m) for m in found.items]}
    if found.next_page_token:
        data["next_page_token"] = found.next_page_token
    return data


def _search_versions(r: MlflowRegistry, p: Params) -> dict[str, Any]:
    found = r.search_versions(p.opt_text("filter"), p.count("max_results"), p.texts("order_by"),
                              p.opt_text("page_token"))
    data: dict[str, Any] = {"model_versions": [version_json(v) for v in found.items]}
    if found.next_page_token:
        data["next_page_token"] = found.next_page_token
    return data


_M, _V = f"{PREFIX}/registered-models", f"{PREFIX}/model-versions"
ROUTES: tuple[MlflowRoute, ...] = (
    MlflowRoute("POST", f"{_M}/create", lambda r, p: {"registered_model": model_json(r.create_model(
        p.text("name"), description=p.opt_text("description"), tags=p.tags()))}, "RESOURCE_ALREADY_EXISTS"),
    MlflowRoute("GET", f"{_M}/get", lambda r, p: {"registered_model": model_json(r.get_model(p.text("name")))}),
    MlflowRoute("POST", f"{_M}/rename", lambda r, p: {"registered_model": model_json(r.rename_model(
        p.text("name"), p.text("new_name")))}, "RESOURCE_ALREADY_EXISTS"),
    MlflowRoute("PATCH", f"{_M}/update", lambda r, p: {"registered_model": model_json(r.update_model(
        p.text("name"), p.opt_text("description")))}),
    MlflowRoute("DELETE", f"{_M}/delete", lambda r, p: _done(r.delete_model(p.text("name")))),
    MlflowRoute("GET", f"{_M}/search", _search_models),
    MlflowRoute("POST", f"{_M}/get-latest-versions", lambda r, p: {"model_versions": [
        version_json(v) for v in r.latest_versions(p.text("name"), p.texts("stages"))]}),
    MlflowRoute("GET", f"{_M}/get-latest-versions", lambda r, p: {"model_versions": [
        version_json(v) for v in r.latest_versions(p.text("name"), p.texts("stages"))]}),
    MlflowRoute("POST", f"{_M}/set-tag", lambda r, p: _done(r.set_model_tag(
        p.text("name"), p.text("key"), p.opt_text("value") or ""))),
    MlflowRoute("DELETE", f"{_M}/delete-tag", lambda r, p: _done(r.delete_model_tag(p.text("name"), p.text("key")))),
    MlflowRoute("POST", f"{_M}/alias", lambda r, p: _done(r.set_alias(
        p.text("name"), p.text("alias"), p.text("version")))),
    MlflowRoute("DELETE", f"{_M}/alias", lambda r, p: _done(r.delete_alias(p.text("name"), p.text("alias")))),
    MlflowRoute("GET", f"{_M}/alias", lambda r, p: {"model_version": version_json(r.get_by_alias(
        p.text("name"), p.text("alias")))}),
    MlflowRoute("POST", f"{_V}/create", lambda r, p: {"model_version": version_json(r.create_version(
        p.text("name"), p.opt_text("source") or "", run_id=p.opt_text("run_id"),
        description=p.opt_text("description"), tags=p.tags()))}),
    MlflowRoute("GET", f"{_V}/get", lambda r, p: {"model_version": version_json(r.get_version(
        p.text("name"), p.text("version")))}),
    MlflowRoute("PATCH", f"{_V}/update", lambda r, p: {"model_version": version_json(r.update_version(
        p.text("name"), p.text("version"), p.opt_text("description")))}),
    MlflowRoute("DELETE", f"{_V}/delete", lambda r, p: _done(r.delete_version(p.text("name"), p.text("version")))),
    MlflowRoute("GET", f"{_V}/search", _search_versions),
    MlflowRoute("GET", f"{_V}/get-download-uri", lambda r, p: {"artifact_uri": r.download_uri(
        p.text("name"), p.text("version"))}),
    MlflowRoute("POST", f"{_V}/transition-stage", lambda r, p: {"model_version": version_json(r.transition_stage(
        p.text("name"), p.text("version"), p.text("stage"), p.flag("archive_existing_versions")))}),
    MlflowRoute("POST", f"{_V}/set-tag", lambda r, p: _done(r.set_version_tag(
        p.text("name"), p.text("version"), p.text("key"), p.opt_text("value") or ""))),
    MlflowRoute("DELETE", f"{_V}/delete-tag", lambda r, p: _done(r.delete_version_tag(
        p.text("name"), p.text("version"), p.text("key")))),
)


#: Methods MLflow's prefix answers (``ENDPOINT_NOT_FOUND`` on a path it does not serve); others are refused with 405.
_ANSWERED = ("GET", "POST", "PATCH", "DELETE", "PUT")


def _route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (``root_path``), as routes match it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(f"{root}/") else path


class MlflowRoutes(BaseRoute):
    """Every route under MLflow's prefix as one route of the app: matched by the prefix, then found by path in a
    dictionary (Starlette would try each route's pattern in turn, the app's API routes first: ~100 of them, a
    sizeable part of a cached answer's cost). A path or method MLflow's API does not have is answered in MLflow's
    error form; HEAD is served where GET is, and a method outside :data:`_ANSWERED` is refused with 405."""

    def __init__(self, routes: tuple[MlflowRoute, ...] = ROUTES) -> None:
        self.by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            self.by_path.setdefault(route.path, {})[route.method] = Route(route.path, endpoint(route),
                                                                          methods=[route.method])
        self.unknown = Route(f"{PREFIX}/{{rest:path}}", unknown_endpoint, methods=list(_ANSWERED))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Any HTTP request under MLflow's prefix."""
        if scope["type"] == "http" and _route_path(scope).startswith(f"{PREFIX}/"):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """No named routes here."""
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route of the request's path and method (``Route.handle`` refuses a method it does not take)."""
        found = self.by_path.get(_route_path(scope), {})
        method = scope["method"]
        route = found.get(method) or (found.get("GET") if method == "HEAD" else None) or self.unknown
        await route.handle(scope, receive, send)
