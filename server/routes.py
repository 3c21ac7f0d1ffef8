"""The route table of the JSON API under ``/api/v1``: one endpoint per use case of the service API.

Each endpoint is declared once (method, path, summary, query parameters, body fields); the
Starlette routes and the OpenAPI document are both built from :data:`ENDPOINTS`. Reads take
``as_of`` / ``at_position`` and answer lists a page at a time; commands take a JSON object
body and an optional ``X-Modelog-Command-Id`` (answered once per id, see :mod:`.dedup`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from modelog.application.http_errors import BODY_TOO_LARGE
from modelog.application.remote import COMMAND_ID_HEADER
from modelog.application.requests import OutputBytes
from modelog.application.wire import model_context_from_wire, step_output_from_wire
from modelog.registry.anchors import parse_anchor
from modelog.registry.checkpoints import parse_checkpoint
from modelog.registry.errors import RegistryError
from modelog.registry.signing import parse_public_key
from modelog.server import governance_routes as gov
from modelog.server import streams
from modelog.server.dedup import fingerprint
from modelog.server.http import (
    MAX_INLINE,
    MAX_PAGE_SIZE,
    Body,
    HTTPRefusal,
    answer,
    error_response,
    paged,
    point,
    query_flag,
    query_int,
    read_body,
    registry_error_response,
)
from modelog.server.read_cache import is_live, live_answer
from modelog.server.state import state_of
from starlette.requests import Request
from starlette.responses import Response

PREFIX = "/api/v1"
POINT = ("as_of", "at_position")
PAGE = ("page", "size")
Handler = Callable[[Request], Awaitable[Response]]
CommandHandler = Callable[[Request, Body], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One route: what it does (summary), its query parameters and JSON body fields, and whether it is a command."""

    method: str
    path: str
    handler: Handler
    summary: str
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    command: bool = False
    streamed: str | None = None  # the media type of a streamed request or response body


def _p(request: Request, name: str) -> str:
    return str(request.path_params[name])


def _command(fields: tuple[str, ...], handler: CommandHandler) -> Handler:
    """A command endpoint: bounded JSON body, typed fields, answered once per command id."""
    async def endpoint(request: Request) -> Response:
        raw = await read_body(request)

        async def execute() -> Response:
            try:
                return await handler(request, Body(raw, set(fields)))
            except RegistryError as error:  # kept with the answer: a retry is refused the same way
                return registry_error_response(error)
            except HTTPRefusal as refusal:
                return error_response(refusal.status, refusal.code, refusal.message)

        scope = state_of(request)
        return await scope.commands.run(_command_id(request),
                                        fingerprint(request.method, request.url.path, raw), execute,
                                        lambda why: error_response(409, "duplicate_command", why))
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _streamed_command(handler: Handler) -> Handler:
    """A command whose body is streamed (an import): answered once per command id, not fingerprinted by body."""
    async def endpoint(request: Request) -> Response:
        async def execute() -> Response:
            try:
                return await handler(request)
            except RegistryError as error:
                return registry_error_response(error)

        return await state_of(request).commands.run(
            _command_id(request), fingerprint(request.method, request.url.path, b""), execute,
            lambda why: error_response(409, "duplicate_command", why))
    return endpoint


def _command_id(request: Request) -> str | None:
    """The request's command id, qualified by its principal: one principal's id never answers another's request."""
    found = request.headers.get(COMMAND_ID_HEADER)
    return f"{state_of(request).principal.name}\0{found}" if found else None


# --- models ------------------------------------------------------------------------------


async def _list_models(r: Request) -> Response:
    q = r.query_params
    size = query_int(q, "size", 50, minimum=1, maximum=MAX_PAGE_SIZE)
    found = await state_of(r).call(state_of(r).api.list_models, name=q.get("name"), tag=q.get("tag"),
                                   sort_by=q.get("sort_by") or "name", page=query_int(q, "page", 1, minimum=1) or 1,
                                   size=size or 50, **point(q))
    return answer(found)


async def _get_model(r: Request) -> Response:
    s = state_of(r)
    if is_live(r.query_params):
        return await live_answer(s, s.api.get_model, _p(r, "model"))
    return answer(await s.call(s.api.get_model, _p(r, "model"), **point(r.query_params)))


async def _register_model(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.register_model, b.text("name"), fields=b.fields("fields"), tags=b.texts("tags")))


async def _update_model(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.update_model, _p(r, "model"), changes=b.fields("changes"),
                               add_tags=b.texts("add_tags"), remove_tags=b.texts("remove_tags")))


async def _delete_model(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.delete_model, _p(r, "model")))


async def _rename_model(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.rename_model, _p(r, "model"), b.text("new_name")))


async def _history(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.history, _p(r, "model"), include_runs=query_flag(q, "include_runs"), **point(q))
    return paged(found, q)


# --- versions ----------------------------------------------------------------------------


async def _list_versions(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_versions, _p(r, "model"), stage=q.get("stage"), **point(q)), q)


async def _get_version(r: Request) -> Response:
    s = state_of(r)
    if is_live(r.query_params):
        return await live_answer(s, s.api.get_version, _p(r, "model"), _p(r, "version"))
    return answer(await s.call(s.api.get_version, _p(r, "model"), _p(r, "version"), **point(r.query_params)))


async def _create_version(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.create_version, _p(r, "model"), name=b.opt_text("name"),
                               description=b.opt_text("description"), tags=b.texts("tags"),
                               metadata=b.raw("metadata")))


async def _update_version(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.update_version, _p(r, "model"), _p(r, "version"), stage=b.opt_text("stage"),
                               force=b.flag("force"), name=b.opt_text("name"), description=b.opt_text("description"),
                               set_aliases=b.texts("set_aliases"), remove_aliases=b.texts("remove_aliases"),
                               add_tags=b.texts("add_tags"), remove_tags=b.texts("remove_tags"),
                               metadata=b.raw("metadata")))


async def _set_stage(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.set_stage, _p(r, "model"), _p(r, "version"), b.text("stage"),
                               force=b.flag("force")))


async def _delete_version(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.delete_version, _p(r, "model"), _p(r, "version")))


async def _set_alias(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.set_alias, _p(r, "model"), b.selector("version"), _p(r, "alias")))


async def _remove_alias(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.remove_alias, _p(r, "model"), _p(r, "alias")))


async def _list_links(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_links, _p(r, "model"), _p(r, "version"), kind=q.get("kind"), **point(q)), q)


async def _link_artifact(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.link_artifact, _p(r, "model"), _p(r, "version"), b.text("artifact_id"),
                               name=b.opt_text("name"), kind=b.opt_text("kind") or "data",
                               overwrite=b.flag("overwrite")))


async def _list_version_runs(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_version_runs, _p(r, "model"), _p(r, "version"), **point(q)), q)


# --- runs --------------------------------------------------------------------------------


async def _start_run(r: Request, b: Body) -> Response:
    s = state_of(r)
    model = model_context_from_wire(b.raw("model"))
    return answer(await s.call(s.api.start_run, b.text("run_id"), b.text("pipeline"), model=model,
                               enable_cache=b.flag("enable_cache")))


async def _complete_step(r: Request, b: Body) -> Response:
    s = state_of(r)
    raw = b.raw("outputs") or []
    if not isinstance(raw, list):
        raise HTTPRefusal(422, "malformed_body", "field 'outputs' must be a list of objects")
    outputs = [step_output_from_wire(o) for o in raw]
    carried = [o for o in outputs if isinstance(o, OutputBytes)]
    inline = sum(len(o.data) for o in carried)
    if inline > MAX_INLINE:
        raise HTTPRefusal(BODY_TOO_LARGE, "body_too_large",
                          f"step {b.text('step')!r} carries {inline} bytes of inline output content, over this "
                          f"server's limit of {MAX_INLINE} bytes (MODELOG_SERVER_MAX_INLINE); upload larger outputs "
                          "with PUT /api/v1/blobs and send their uri; nothing was stored")
    if carried and not s.allowed_everywhere("store_blob"):  # storing inline is storing: store_blob's role too
        await s.call(s.api.authorize, "store_blob")
    return answer(await s.call(s.api.complete_step, _p(r, "run_id"), b.text("step"), outputs,
                               cached=b.flag("cached"), cache_key=b.opt_text("cache_key"),
                               duration_ms=b.number("duration_ms")))


async def _finish_run(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.finish_run, _p(r, "run_id"), duration_ms=b.number("duration_ms")))


async def _fail_run(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.fail_run, _p(r, "run_id"), error_type=b.text("error_type"),
                               error_message=b.text("error_message"), failed_step=b.opt_text("failed_step"),
                               delete_created_version=b.flag("delete_created_version"),
                               duration_ms=b.number("duration_ms")))


async def _get_run(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.get_run, _p(r, "run_id"), **point(r.query_params)))


async def _list_runs(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.list_runs, pipeline=q.get("pipeline"), status=q.get("status"),
                         limit=query_int(q, "limit", 50, minimum=1) or 50, **point(q))
    return paged(found, q)


async def _list_run_steps(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_run_steps, _p(r, "run_id"), **point(q)), q)


async def _find_cached_step(r: Request) -> Response:
    s = state_of(r)
    return answer({"outputs": await s.call(s.api.find_cached_step, r.query_params.get("cache_key") or "")})


# --- artifacts, the log, the read models -------------------------------------------------


async def _list_artifacts(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_artifacts, **point(q)), q)


async def _get_artifact(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.get_artifact, _p(r, "artifact_id"), **point(r.query_params)))


async def _verify_artifacts(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.verify_artifacts))


async def _resolve_point(r: Request) -> Response:
    s = state_of(r)
    return answer({"position": await s.call(s.api.resolve_point, **point(r.query_params))})


async def _log_events(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.log_events, from_position=query_int(q, "from_position", 1, minimum=1) or 1,
                         limit=query_int(q, "limit", 100, minimum=0, maximum=MAX_PAGE_SIZE) or 0,
                         streams=q.getlist("stream"), **point(q))
    return answer({"items": found, "from_position": query_int(q, "from_position", 1), "count": len(found)})


async def _log_head(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.log_head, **point(r.query_params)))


async def _verify_log(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    anchors = [parse_anchor(text) for text in q.getlist("anchor")]
    keys = [parse_public_key(text, "query parameter public_key") for text in q.getlist("public_key")]
    checkpoints = [parse_checkpoint(text, "query parameter checkpoint") for text in q.getlist("checkpoint")]
    return answer(await s.call(s.api.verify_log, anchors, rules=query_flag(q, "rules"), public_keys=keys,
                               checkpoints=checkpoints))


async def _log_checkpoint(r: Request) -> Response:
    s = state_of(r)
    return answer((await s.call(s.api.log_checkpoint)).as_dict())


async def _verify_projections(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.verify_projections))


async def _rebuild_projections(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.rebuild_projections))


# --- everyday use: describe, compare, search by metadata, completion ------------------------


async def _describe_model(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.describe_model, _p(r, "model"), **point(r.query_params)))


async def _history_page(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.history_page, _p(r, "model"), actor=q.get("actor"), kind=q.get("kind"),
                         page=query_int(q, "page", 1, minimum=1) or 1,
                         size=query_int(q, "size", 100, minimum=1, maximum=1000) or 100, **point(q))
    return answer(found)


async def _stage_timeline(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.stage_timeline, _p(r, "model"), low=query_int(q, "low", None),
                         high=query_int(q, "high", None), **point(q))
    return answer(found)


async def _describe_version(r: Request) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.describe_version, _p(r, "model"), _p(r, "version"), **point(r.query_params)))


async def _compare_versions(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return answer(await s.call(s.api.compare_versions, _p(r, "model"), q.getlist("version"), **point(q)))


async def _list_model_summaries(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    size = query_int(q, "size", 50, minimum=1, maximum=MAX_PAGE_SIZE)
    return answer(await s.call(s.api.list_model_summaries, name=q.get("name"), tag=q.get("tag"),
                               sort_by=q.get("sort_by") or "name", page=query_int(q, "page", 1, minimum=1) or 1,
                               size=size or 50, **point(q)))


async def _search_versions(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.search_versions, _p(r, "model"), stage=q.get("stage"),
                              sort_by=q.get("sort_by") or "number", filters=q.getlist("filter"), **point(q)), q)


async def _log_metadata(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.log_metadata, _p(r, "model"), _p(r, "version"), b.raw("values")))


async def _complete(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return answer(await s.call(s.api.complete, q.get("kind") or "", q.get("prefix") or "", model=q.get("model"),
                               limit=query_int(q, "limit", 50, minimum=1, maximum=MAX_PAGE_SIZE) or 50))

# --- principals and API tokens -------------------------------------------------------------


async def _add_principal(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.add_principal, b.text("name")))


async def _disable_principal(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.disable_principal, _p(r, "name")))


async def _list_principals(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_principals, **point(q)), q)


async def _create_token(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.create_token, b.text("principal"), expires=b.opt_text("expires")))


async def _list_tokens(r: Request) -> Response:
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_tokens, principal=q.get("principal"), **point(q)), q)


async def _revoke_token(r: Request, b: Body) -> Response:
    s = state_of(r)
    return answer(await s.call(s.api.revoke_token, _p(r, "token_id")))


def _e(method: str, path: str, handler: Any, summary: str, *, query: tuple[str, ...] = (),
       body: tuple[str, ...] = (), streamed: str | None = None) -> Endpoint:
    command = method != "GET"
    wrapped = _command(body, handler) if command and streamed is None else handler
    return Endpoint(method, PREFIX + path, wrapped, summary, query, body, command, streamed)


_V = "/models/{model}/versions/{version}"
#: Every route of the API, in matching order (fixed paths before the parameterised ones they overlap).
ENDPOINTS: tuple[Endpoint, ...] = (
    _e("GET", "/log/point", _resolve_point, "The log position a read at as_of / at_position refers to.", query=POINT),
    _e("GET", "/models", _list_models, "A page of live models (filter by name substring, tag).",
       query=("name", "tag", "sort_by", *PAGE, *POINT)),
    _e("POST", "/models", _register_model, "Register a model.", body=("name", "fields", "tags")),
    _e("GET", "/models/{model}", _get_model, "One model by name.", query=POINT),
    _e("PATCH", "/models/{model}", _update_model, "Change a model's text fields and tags.",
       body=("changes", "add_tags", "remove_tags")),
    _e("DELETE", "/models/{model}", _delete_model, "Delete a model and its versions; free its name."),
    _e("POST", "/models/{model}/rename", _rename_model,
       "Give a model a new name (the old one is freed); its versions, aliases and history stay its own.",
       body=("new_name",)),
    _e("GET", "/models/{model}/history", _history, "Every event of a model's stream (optionally its runs').",
       query=("include_runs", *PAGE, *POINT)),
    _e("GET", "/models/{model}/versions", _list_versions, "The live versions of a model.",
       query=("stage", *PAGE, *POINT)),
    _e("POST", "/models/{model}/versions", _create_version,
       "Create the next version of a model (metadata: logged on it in the same transaction).",
       body=("name", "description", "tags", "metadata")),
    _e("GET", _V, _get_version, "The version a selector names (number, name, stage, latest, @alias).", query=POINT),
    _e("PATCH", _V, _update_version, "Promote, rename, describe and alias a version together (all or nothing).",
       body=("stage", "force", "name", "description", "set_aliases", "remove_aliases", "add_tags", "remove_tags",
             "metadata")),
    _e("DELETE", _V, _delete_version, "Delete a version (its number is never reused)."),
    _e("PUT", _V + "/stage", _set_stage, "Move a version into a stage (force archives the holder).",
       body=("stage", "force")),
    _e("GET", _V + "/links", _list_links, "Artifacts linked to a version.", query=("kind", *PAGE, *POINT)),
    _e("POST", _V + "/links", _link_artifact, "Link a stored artifact version to a version.",
       body=("artifact_id", "name", "kind", "overwrite")),
    _e("GET", _V + "/runs", _list_version_runs, "Runs linked to a version.", query=(*PAGE, *POINT)),
    _e("PUT", "/models/{model}/aliases/{alias}", _set_alias, "Point an alias at a version.", body=("version",)),
    _e("DELETE", "/models/{model}/aliases/{alias}", _remove_alias, "Remove an alias."),
    _e("GET", "/runs", _list_runs, "The most recent runs, newest first.",
       query=("pipeline", "status", "limit", *PAGE, *POINT)),
    _e("POST", "/runs", _start_run, "Start a pipeline run in its model version.",
       body=("run_id", "pipeline", "model", "enable_cache")),
    _e("GET", "/runs/{run_id}", _get_run, "A run by id.", query=POINT),
    _e("GET", "/runs/{run_id}/steps", _list_run_steps, "The completed steps of a run.", query=(*PAGE, *POINT)),
    _e("POST", "/runs/{run_id}/steps", _complete_step, "Record a completed step and its outputs.",
       body=("step", "outputs", "cached", "cache_key", "duration_ms")),
    _e("POST", "/runs/{run_id}/finish", _finish_run, "Mark a run completed.", body=("duration_ms",)),
    _e("POST", "/runs/{run_id}/fail", _fail_run, "Mark a run failed.",
       body=("error_type", "error_message", "failed_step", "delete_created_version", "duration_ms")),
    _e("GET", "/steps/cached", _find_cached_step, "The outputs of the latest step with a cache key.",
       query=("cache_key",)),
    _e("GET", "/artifacts", _list_artifacts, "Every stored artifact version.", query=(*PAGE, *POINT)),
    _e("GET", "/artifacts/verify", _verify_artifacts, "Hash every artifact file the log refers to."),
    _e("GET", "/artifacts/{artifact_id}", _get_artifact, "A stored artifact version by id.", query=POINT),
    _e("PUT", "/blobs", streams.put_blob, "Upload bytes to the content-addressed store (X-Content-SHA256 required).",
       streamed="application/octet-stream"),
    _e("GET", "/artifacts/{artifact_id}/content", streams.get_artifact_content,
       "An artifact version's bytes, as the log recorded them (refused when the store or the views disagree).",
       streamed="application/octet-stream"),
    _e("GET", "/log/events", _log_events, "Events of the log in position order.",
       query=("from_position", "limit", "stream", *POINT)),
    _e("GET", "/log/head", _log_head, "The last position and its hash (an audit anchor).", query=POINT),
    _e("GET", "/log/verify", _verify_log,
       "Walk the hash chain and check anchors (POSITION:HASH) and signed checkpoints (JSON); public_key (64 hex "
       "digits): every event since signing began signed by one of them; rules=true: the domain's rules too.",
       query=("anchor", "checkpoint", "public_key", "rules")),
    _e("GET", "/log/checkpoint", _log_checkpoint,
       "A checkpoint of the log's last position, signed with the server's signing key (MODELOG_SIGNING_KEY)."),
    _e("GET", "/log/export", streams.export_log, "The whole log as JSON Lines (streamed, chunked).",
       streamed="application/x-ndjson"),
    _e("POST", "/log/import", _streamed_command(streams.import_log),
       "Import an exported log into the empty registry (streamed JSON Lines body).",
       streamed="application/x-ndjson"),
    _e("GET", "/log/bundle", streams.export_bundle, "The log and every artifact it refers to, as one tar bundle.",
       streamed="application/x-tar"),
    _e("POST", "/log/bundle", _streamed_command(streams.import_bundle),
       "Import a bundle (or a log-only export) into the empty registry and its artifact store.",
       streamed="application/x-tar"),
    _e("GET", "/projections/verify", _verify_projections, "Compare the read models with a fresh replay."),
    _e("POST", "/projections/rebuild", _rebuild_projections, "Reset the read models and replay the log."),
    _e("GET", "/principals", _list_principals, "Every principal, by name.", query=(*PAGE, *POINT)),
    _e("POST", "/principals", _add_principal, "Add a principal that API tokens can be issued to.", body=("name",)),
    _e("POST", "/principals/{name}/disable", _disable_principal,
       "Disable a principal: its tokens are refused from the next request on."),
    _e("GET", "/tokens", _list_tokens, "Every API token issued (never a secret or a hash).",
       query=("principal", *PAGE, *POINT)),
    _e("POST", "/tokens", _create_token, "Issue an API token (expires: a duration such as 30d); answered once.",
       body=("principal", "expires")),
    _e("POST", "/tokens/{token_id}/revoke", _revoke_token, "Revoke an API token: refused from the next request on."),
)

#: Everyday use: describe views, comparisons, listings by metadata, metadata logging, completion.
EVERYDAY_ENDPOINTS: tuple[Endpoint, ...] = (
    _e("GET", "/model-summaries", _list_model_summaries,
       "A page of models with their production and staging versions and who changed each last.",
       query=("name", "tag", "sort_by", *PAGE, *POINT)),
    _e("GET", "/models/{model}/describe", _describe_model,
       "A model with its versions by stage, aliases and latest activity.", query=POINT),
    _e("GET", "/models/{model}/history-page", _history_page,
       "A page of a model's history, newest first, filtered by actor and event kind (with their choices).",
       query=("actor", "kind", *PAGE, *POINT)),
    _e("GET", "/models/{model}/timeline", _stage_timeline,
       "A model's stage timeline: per version its stage spans and markers (versions low..high).",
       query=("low", "high", *POINT)),
    _e("GET", "/models/{model}/compare", _compare_versions, "Versions of a model side by side (version=A&version=B).",
       query=("version", *POINT)),
    _e("GET", "/models/{model}/version-search", _search_versions,
       "Versions with their metadata, filtered (filter=metric:accuracy>0.9) and sorted (sort_by=metric:accuracy).",
       query=("stage", "sort_by", "filter", *PAGE, *POINT)),
    _e("GET", _V + "/describe", _describe_version,
       "A version with its metadata, metrics, tags, artifacts, runs and stage history.", query=POINT),
    _e("POST", _V + "/metadata", _log_metadata, "Log metadata (metrics, parameters) on a version.", body=("values",)),
    _e("GET", "/complete", _complete, "Completion candidates: model names, version selectors, run ids.",
       query=("kind", "prefix", "model", "limit")),
)
#: Roles, stage policies and four-eyes stage change requests.
GOVERNANCE_ENDPOINTS: tuple[Endpoint, ...] = (
    _e("GET", "/principals/{name}", gov.describe_principal, "A principal, the roles it holds and its API tokens.",
       query=POINT),
    _e("POST", "/principals/{name}/roles", gov.grant_role,
       "Grant a role (viewer, contributor, maintainer, admin), registry-wide or on one model.", body=("role", "model")),
    _e("POST", "/principals/{name}/roles/revoke", gov.revoke_role, "Revoke a role held in that scope.",
       body=("role", "model")),
    _e("GET", "/policies", gov.list_stage_policies, "Every stage policy in force.", query=(*PAGE, *POINT)),
    _e("PUT", "/policies/{stage}", gov.set_stage_policy,
       "Require approvals for moves into a stage, registry-wide or on one model.", body=("approvals", "model")),
    _e("GET", "/models/{model}/requests", gov.list_stage_requests, "A model's stage change requests.",
       query=("version", "status", *PAGE, *POINT)),
    _e("POST", _V + "/requests", gov.request_stage, "Request moving a version into a protected stage.",
       body=("stage", "force", "expires")),
    _e("POST", _V + "/approve", gov.approve_stage_request,
       "Approve the version's pending request (never one's own); the last approval needed moves it.", body=("stage",)),
    _e("POST", _V + "/reject", gov.reject_stage_request, "Reject (or withdraw) the version's pending request.",
       body=("stage", "reason")),
)
ENDPOINTS = (*EVERYDAY_ENDPOINTS, *GOVERNANCE_ENDPOINTS, *ENDPOINTS)
