"""The read pages: models, model, version, run, diff and audit; each one use case of
:mod:`modelog.application.pages` at the moment the URL names, rendered as HTML or its JSON twin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from modelog.application import pages
from modelog.registry.errors import InvalidInputError
from modelog.server.http import MAX_PAGE_SIZE, point, query_int
from modelog.server.state import RequestScope
from modelog.ui.access import Visit
from modelog.ui.cache import PageCache
from modelog.ui.render import page, path_part
from modelog.ui.svg import lineage_svg, timeline_svg
from starlette.requests import Request
from starlette.responses import Response

T = TypeVar("T")
#: The notices a redirect after an action may ask a page to show (a fixed set: no text from the URL is shown).
NOTICES = {"stage": "Stage changed.", "alias": "Alias set.", "alias-removed": "Alias removed.",
           "verified": "Verification finished: see below.",
           "requested": "Stage change requested: another maintainer must approve it.",
           "approval": "Approval recorded: more approvals are needed.",
           "approved": "Request approved: the version moved.", "rejected": "Request rejected."}


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value else None


def _point(params: Mapping[str, str]) -> dict[str, Any]:
    """The request's ``as_of`` / ``at_position``; a time without a zone (the date-time field's) is UTC, as the
    page says, whatever the server's own zone."""
    found = point(params)
    as_of = found["as_of"]
    if as_of is not None and params.get("as_of") and datetime.fromisoformat(
            params["as_of"].strip().replace(" ", "+")).tzinfo is None:
        found["as_of"] = as_of.replace(tzinfo=None).replace(tzinfo=UTC)
    return found


def _cache(request: Request) -> PageCache:
    found = getattr(request.app.state, "modelog_ui_pages", None)
    if not isinstance(found, PageCache):
        found = request.app.state.modelog_ui_pages = PageCache()
    return found


async def _answer(request: Request, visit: Visit, at: pages.Moment, compute: Callable[[], T]) -> T:
    """The page's answer, kept while the head stands still (key: the path, the query, who asks)."""
    key = (request.url.path.removesuffix(".json"), str(request.url.query), visit.scope.principal.name)
    return await visit.scope.call(_cache(request).answer, at.head, key, compute)


async def _moment(visit: Visit, params: Mapping[str, str]) -> pages.Moment:
    scope = visit.scope
    return await scope.call(pages.moment, scope.api, **_point(params))


def _context(request: Request, visit: Visit, moment: pages.Moment, **extra: Any) -> dict[str, Any]:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return {**visit.base(moment), "notice": notice, **extra}


async def models(request: Request, visit: Visit) -> Response:
    """The models page."""
    q, scope = request.query_params, visit.scope
    at = await _moment(visit, q)
    sort_by = q.get("sort") or "name"
    found = await _answer(request, visit, at, partial(
        pages.models_page, scope.api, at, name=_text(q, "name"), tag=_text(q, "tag"), sort_by=sort_by,
        page=query_int(q, "page", 1, minimum=1) or 1,
        size=query_int(q, "size", 50, minimum=1, maximum=MAX_PAGE_SIZE) or 50))
    return page(request, "models.html", found, _context(request, visit, at, view=found))


async def model(request: Request, visit: Visit) -> Response:
    """The model page: versions, stage timeline, history."""
    q, scope = request.query_params, visit.scope
    at = await _moment(visit, q)
    found = await _answer(request, visit, at, partial(
        pages.model_page, scope.api, at, str(request.path_params["model"]), actor=_text(q, "actor"),
        kind=_text(q, "kind"), page=query_int(q, "hpage", 1, minimum=1) or 1,
        version_page=query_int(q, "vpage", 1, minimum=1) or 1))
    return page(request, "model.html", found, _context(
        request, visit, at, view=found, versions=found.versions, version_total=found.version_total,
        vpage=found.version_page, vpages=found.version_pages, lanes=len(found.timeline.lanes),
        timeline=timeline_svg(found.timeline), hpages=max(1, -(-found.history_total // pages.HISTORY_PAGE)),
        model_part=path_part(found.model.name)))


#: The stages of the "Move to stage" form; those a policy protects go to the "Request stage" form instead.
_STAGES = ("staging", "production", "archived", "none")


def _selector(text: str) -> int | str:
    return int(text) if text.isdigit() else text


async def version(request: Request, visit: Visit) -> Response:
    """The version page: metadata, artifacts, runs, lineage."""
    q, scope = request.query_params, visit.scope
    at = await _moment(visit, q)
    found = await _answer(request, visit, at, partial(pages.version_page, scope.api, at,
                                                      str(request.path_params["model"]),
                                                      _selector(str(request.path_params["version"]))))
    v = found.description.version
    return page(request, "version.html", found, _context(
        request, visit, at, view=found, lineage=lineage_svg(found.lineage, v.model_name, v.number, at.position
                                                           if at.past else None),
        model_part=path_part(v.model_name), stages=tuple(s for s in _STAGES if s not in found.protected),
        protected=found.protected))


async def run(request: Request, visit: Visit) -> Response:
    """The run page: pipeline, status, steps and their outputs, the version it created or used."""
    scope = visit.scope
    at = await _moment(visit, request.query_params)
    found = await _answer(request, visit, at, partial(pages.run_page, scope.api, at, str(request.path_params["run"])))
    return page(request, "run.html", found, _context(request, visit, at, view=found))


def _bound(text: str | None, name: str) -> dict[str, Any]:
    """A diff bound: a log position (digits) or an ISO 8601 time; absent: live."""
    if not text:
        return {}
    if text.strip().isdigit():
        return {"at_position": int(text)}
    try:
        return {"as_of": _point({"as_of": text})["as_of"]}
    except InvalidInputError:
        raise InvalidInputError(f"{name}={text!r} is neither a log position nor an ISO 8601 time") from None


def _moment_at(scope: RequestScope, bound: dict[str, Any]) -> pages.Moment:
    as_of: datetime | None = bound.get("as_of")
    return pages.moment(scope.api, as_of=as_of, at_position=bound.get("at_position"))


async def diff(request: Request, visit: Visit) -> Response:
    """What changed in a model between two moments (``before`` and ``after``: positions or times)."""
    q, scope = request.query_params, visit.scope
    before_bound, after_bound = _bound(q.get("before"), "before"), _bound(q.get("after"), "after")
    if not before_bound:
        before_bound = {"at_position": 0}
    before = await scope.call(_moment_at, scope, before_bound)
    after = await scope.call(_moment_at, scope, after_bound)
    found = await scope.call(pages.diff_page, scope.api, before, after, str(request.path_params["model"]))
    return page(request, "diff.html", found, _context(request, visit, after, view=found,
                                                      model_part=path_part(found.diff.model),
                                                      before_text=q.get("before") or "", after_text=q.get("after")
                                                      or ""))


async def audit(request: Request, visit: Visit) -> Response:
    """The audit page: the log a page at a time, its head, the last verification."""
    q, scope = request.query_params, visit.scope
    at = await _moment(visit, q)
    found = await scope.call(pages.audit_page, scope.api, at, start=query_int(q, "start", None, minimum=1))
    last = getattr(request.app.state, "modelog_ui_verification", None)
    return page(request, "audit.html", found, _context(request, visit, at, view=found, verification=last,
                                                       size=pages.AUDIT_PAGE))
