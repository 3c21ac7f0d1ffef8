"""Signing in with an API token and signing out (see :mod:`modelog.ui.session` for the cookie)."""

from __future__ import annotations

from modelog.registry.errors import AuthenticationError
from modelog.server.state import server_state
from modelog.ui.access import read_form
from modelog.ui.render import error_page, html, secured
from modelog.ui.session import (
    CSRF_FIELD,
    csrf_matches,
    login_nonce,
    login_nonce_matches,
    remember_login_nonce,
    session_token,
    sign_in,
    sign_out,
)
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of the UI only (never another site, never a scheme)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/models"


def _form_page(request: Request, status: int = 200, problem: str | None = None) -> Response:
    nonce = login_nonce(request)
    response = html(request, "login.html", {"principal": None, "nonce": nonce, "csrf_field": CSRF_FIELD,
                                            "next": _next(request.query_params.get("next")),
                                            "problem": problem or request.query_params.get("reason")}, status)
    remember_login_nonce(response, request, nonce)
    return response


async def login_form(request: Request) -> Response:
    """The login form (a token field)."""
    return _form_page(request)


async def login(request: Request) -> Response:
    """Check the token against the log; on success set the session cookie and go on."""
    form = await read_form(request)
    if not login_nonce_matches(request, form.get(CSRF_FIELD)):
        return _form_page(request, 403, "the login form expired: try again")
    token = form.get("token", "").strip()
    state = server_state(request)
    try:
        await state.call(state.authenticator.authenticate, token)
    except AuthenticationError as error:
        return _form_page(request, 401, str(error))
    response = secured(RedirectResponse(_next(form.get("next")), status_code=303))
    sign_in(response, request, token)
    return response


async def logout(request: Request) -> Response:
    """Sign out (the form carries the session's CSRF value)."""
    token = session_token(request)
    form = await read_form(request)
    if token is not None and not csrf_matches(token, form.get(CSRF_FIELD)):
        return error_page(request, 403, "csrf", "the form's CSRF token is missing or wrong", {"principal": None})
    response = secured(RedirectResponse("/ui/login", status_code=303))
    sign_out(response, request)
    return response
