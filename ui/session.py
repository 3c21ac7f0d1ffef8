"""Signing in to the UI: the session cookie, and the CSRF token every form carries.

The session cookie holds the API token the person signed in with (``HttpOnly``: page scripts
cannot read it; ``SameSite=Strict``: no other site's page or link sends it; ``Secure`` over
HTTPS; path ``/ui``). It is checked against the log on every request like a bearer token
(:class:`~modelog.application.access.Authenticator`), so a revoked token or a disabled principal
is refused on the very next page. It needs no state in the server: any worker process answers
any request, and a restart signs nobody out. The CSRF token of a session is an HMAC of a fixed
label keyed by the session's token: stable for the session, unguessable without the token, and
never the token itself. Before sign-in, the login form is protected by a random double-submit
cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "modelog_session"
LOGIN_COOKIE = "modelog_login"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/ui"
_LABEL = b"modelog-ui-csrf-v1"


def session_token(request: Request) -> str | None:
    """The API token of the request's session (None: not signed in)."""
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_token(token: str) -> str:
    """The CSRF token of the session signed in with ``token``."""
    return hmac.new(token.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()


def csrf_matches(token: str, given: str | None) -> bool:
    """True when a form's CSRF field is the session's (constant-time)."""
    return bool(given) and hmac.compare_digest(csrf_token(token), str(given))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def sign_in(response: Response, request: Request, token: str) -> None:
    """Set the session cookie (and drop the login form's cookie)."""
    response.set_cookie(SESSION_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)


def sign_out(response: Response, request: Request) -> None:
    """Remove the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=_secure(request))


def login_nonce(request: Request) -> str:
    """The login form's double-submit value: the one its cookie already holds, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def remember_login_nonce(response: Response, request: Request, nonce: str) -> None:
    """Set the login form's cookie."""
    response.set_cookie(LOGIN_COOKIE, nonce, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=_secure(request), max_age=3600)


def login_nonce_matches(request: Request, given: str | None) -> bool:
    """True when the login form's field is the value of its cookie (constant-time)."""
    expected = request.cookies.get(LOGIN_COOKIE)
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
