"""Who is asking: every UI route runs for a signed-in principal (the session's token checked against the log),
forms are CSRF-checked, and registry refusals become error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from modelog.application.http_errors import code_and_status
from modelog.application.pages import Moment
from modelog.registry.errors import AuthenticationError, RegistryError
from modelog.server.http import read_body
from modelog.server.state import RequestScope, admitted, server_state
from modelog.ui.render import error_page, wants_json, with_point
from modelog.ui.session import CSRF_FIELD, csrf_matches, csrf_token, session_token, sign_out
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

#: The largest form body the UI accepts, in bytes.
MAX_FORM = 64 << 10


@dataclass(frozen=True)
class Visit:
    """One signed-in request: its admitted scope, its session token's CSRF value and (for a POST) its form."""

    scope: RequestScope
    csrf: str
    form: Mapping[str, str]

    def base(self, moment: Moment | None) -> dict[str, Any]:
        """What every page's template needs: who is signed in, the CSRF value, the moment shown, link making."""
        position = moment.position if moment is not None and moment.past else None
        return {"principal": self.scope.principal.name, "csrf": self.csrf, "moment": moment,
                "link": lambda path, **params: with_point(path, position, **params), "csrf_field": CSRF_FIELD}


Page = Callable[[Request, Visit], Awaitable[Response]]


def _to_login(request: Request, reason: str | None = None) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target if request.method == "GET" else "/ui/models"}
    if reason:
        query["reason"] = reason
    response = RedirectResponse("/ui/login?" + urlencode(query), status_code=303)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded form body (bounded by :data:`MAX_FORM`), the last value of each field."""
    raw = await read_body(request, MAX_FORM)
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[-1] for key, values in parsed.items()}


def refusal(request: Request, visit: Visit | None, error: RegistryError) -> Response:
    """The page for a refusal of the registry (404 with a way back, 400 naming the problem, 403, 409...)."""
    code, status = code_and_status(error)
    context = visit.base(None) if visit is not None else {"principal": None}
    return error_page(request, status, code, str(error), context)


def signed_in(handler: Page, action: str) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` run for a signed-in principal allowed ``action`` (a POST also needs the session's CSRF value);
    a visitor without a valid session is sent to the login page (a JSON twin gets 401)."""
    async def endpoint(request: Request) -> Response:
        token = session_token(request)
        state = server_state(request)
        if token is None:
            if wants_json(request):
                return error_page(request, 401, "authentication", "sign in first (POST /ui/login)", {})
            return _to_login(request)
        try:
            scope = await state.call(state.admit, token, None, action)
        except AuthenticationError as error:
            response = (error_page(request, 401, "authentication", str(error), {}) if wants_json(request)
                        else _to_login(request, str(error)))
            sign_out(response, request)
            return response
        except RegistryError as error:
            return refusal(request, None, error)
        admitted(request, scope)  # the access log names the principal
        visit = Visit(scope, csrf_token(token), {})
        if request.method == "POST":
            form = await read_form(request)
            if not csrf_matches(token, form.get(CSRF_FIELD)):
                return error_page(request, 403, "csrf", "the form's CSRF token is missing or wrong: reload the page "
                                  "and try again", visit.base(None))
            visit = Visit(scope, visit.csrf, form)
        try:
            return await handler(request, visit)
        except RegistryError as error:
            return refusal(request, visit, error)
    endpoint.__doc__ = handler.__doc__
    return endpoint
