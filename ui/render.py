"""Rendering: the Jinja2 environment (auto-escaping, every value made visible-safe), security headers,
HTML or the JSON twin, and the error pages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from modelog.application.wire import to_wire
from modelog.server.http import dumps
from starlette.requests import Request
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
#: No inline script or style anywhere: scripts and styles come from /ui/static only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
# C0 / C1 controls and the Unicode bidirectional controls: shown as their code point, never acted on
# (a right-to-left override would make a name read differently from what it is).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with control and bidi characters replaced by a visible ``<U+XXXX>`` (escaped later)."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    return visible(value) if isinstance(value, str) else value


def path_part(value: object) -> str:
    """One segment of a URL path: every reserved character percent-encoded."""
    return quote(str(value), safe="")


@cache
def environment() -> Environment:
    """The templates' environment (auto-escaping on for HTML and SVG)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html", "svg")),
                      finalize=_finalize, trim_blocks=True, lstrip_blocks=True)
    env.filters["part"] = path_part
    env.filters["visible"] = lambda v: visible(str(v))
    env.filters["short"] = lambda v, n=8: str(v)[:n]
    return env


def wants_json(request: Request) -> bool:
    """True for a page's JSON twin: the ``.json`` suffix or ``Accept: application/json`` (and not HTML)."""
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def with_point(path: str, position: int | None, **params: Any) -> str:
    """``path`` with its query: ``params`` that are set, and ``at_position`` when the page shows the past."""
    query = {k: v for k, v in params.items() if v is not None and v != ""}
    if position is not None:
        query["at_position"] = position
    return path + ("?" + urlencode(query) if query else "")


def secured(response: Response) -> Response:
    """``response`` with the UI's security headers."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def html(request: Request, template: str, context: Mapping[str, Any], status: int = 200) -> Response:
    """A page rendered from ``template``."""
    body = environment().get_template(template).render(request=request, **context)
    return secured(Response(body, status_code=status, media_type="text/html; charset=utf-8"))


def twin(value: Any, status: int = 200) -> Response:
    """The JSON twin of a page: its use case's answer on the wire."""
    return secured(Response(dumps(to_wire(value)), status_code=status, media_type="application/json"))


def page(request: Request, template: str, value: Any, context: Mapping[str, Any]) -> Response:
    """A page, or its JSON twin when the request asks for JSON."""
    if wants_json(request):
        return twin(value)
    return html(request, template, context)


def error_page(request: Request, status: int, code: str, message: str, context: Mapping[str, Any]) -> Response:
    """A 4xx / 5xx page naming the problem with a way back (JSON ``{"error": ...}`` for a twin)."""
    if wants_json(request):
        return twin({"error": {"code": code, "message": message}}, status)
    return html(request, "error.html", {**context, "status": status, "code": code, "message": message}, status)
