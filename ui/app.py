"""The UI's routes, mounted by the server's app under ``/ui``: pages (each with a ``.json`` twin), forms,
login, static files, and a 404 page for anything else."""

from __future__ import annotations

from modelog.ui import actions, views
from modelog.ui.access import Page, signed_in
from modelog.ui.login import login, login_form, logout
from modelog.ui.render import HERE, error_page
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

_M = "/ui/models/{model}"
_V = _M + "/versions/{version}"
#: (path, page, the action the permission hook is asked about: the JSON API's route for the same use case)
PAGES: tuple[tuple[str, Page, str], ...] = (
    ("/ui/models", views.models, "GET /api/v1/models"),
    (_M + "/diff", views.diff, "GET /api/v1/models/{model}/history"),
    (_V, views.version, "GET /api/v1/models/{model}/versions/{version}/describe"),
    (_M, views.model, "GET /api/v1/models/{model}/describe"),
    ("/ui/runs/{run}", views.run, "GET /api/v1/runs/{run_id}"),
    ("/ui/audit", views.audit, "GET /api/v1/log/events"),
)
FORMS: tuple[tuple[str, Page, str], ...] = (
    (_V + "/stage", actions.set_stage, "PUT /api/v1/models/{model}/versions/{version}/stage"),
    (_V + "/request", actions.request_stage, "POST /api/v1/models/{model}/versions/{version}/requests"),
    (_V + "/approve", actions.approve_request, "POST /api/v1/models/{model}/versions/{version}/approve"),
    (_V + "/reject", actions.reject_request, "POST /api/v1/models/{model}/versions/{version}/reject"),
    (_V + "/alias", actions.set_alias, "PUT /api/v1/models/{model}/aliases/{alias}"),
    (_V + "/alias/remove", actions.remove_alias, "DELETE /api/v1/models/{model}/aliases/{alias}"),
    ("/ui/audit/verify", actions.verify, "GET /api/v1/log/verify"),
)


async def _home(request: Request) -> Response:
    return RedirectResponse("/ui/models", status_code=303)


async def _no_icon(request: Request) -> Response:
    return Response(status_code=204)


async def _not_found(request: Request) -> Response:
    return error_page(request, 404, "unknown_page", f"there is no page at {request.url.path}", {"principal": None})


def ui_routes() -> list[BaseRoute]:
    """Every route of the UI (the ``.json`` twin of a page first: a page's last path part may contain dots)."""
    routes: list[BaseRoute] = [Route("/", _home, methods=["GET"]), Route("/ui", _home, methods=["GET"]),
                               Route("/ui/", _home, methods=["GET"]),
                               Route("/favicon.ico", _no_icon, methods=["GET"]),
                               Route("/ui/login", login_form, methods=["GET"]),
                               Route("/ui/login", login, methods=["POST"]),
                               Route("/ui/logout", logout, methods=["POST"]),
                               Mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static")]
    for path, handler, action in PAGES:
        routes.append(Route(path + ".json", signed_in(handler, action), methods=["GET"]))
        routes.append(Route(path, signed_in(handler, action), methods=["GET"]))
    for path, handler, action in FORMS:
        routes.append(Route(path, signed_in(handler, action), methods=["POST"]))
    routes.append(Route("/ui/artifacts/{artifact}/download",
                        signed_in(actions.download, "GET /api/v1/artifacts/{artifact_id}/content"), methods=["GET"]))
    routes.append(Route("/ui/{rest:path}", _not_found, methods=["GET", "POST"]))
    return routes
