"""The HTTP side of the server's handlers: JSON answers and errors, bounded bodies, typed query and body fields."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelog.application.http_errors import BODY_TOO_LARGE, MALFORMED_BODY, code_and_status
from modelog.application.wire import to_wire
from modelog.registry.errors import InvalidInputError, RegistryError
from starlette.requests import Request
from starlette.responses import Response

#: Largest JSON request body, in bytes (``MODELOG_SERVER_MAX_BODY``).
MAX_BODY = int(os.environ.get("MODELOG_SERVER_MAX_BODY") or 1 << 20)
#: Most bytes of output content a step command may carry inline (``MODELOG_SERVER_MAX_INLINE``); larger outputs
#: are uploaded (streamed) with ``PUT /blobs`` first. The JSON body limit bounds it too (base64 is 4/3 the size).
MAX_INLINE = int(os.environ.get("MODELOG_SERVER_MAX_INLINE") or 512 << 10)
#: Largest upload (an artifact or an exported log), in bytes (``MODELOG_SERVER_MAX_UPLOAD``).
MAX_UPLOAD = int(os.environ.get("MODELOG_SERVER_MAX_UPLOAD") or 64 << 30)
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000


class HTTPRefusal(Exception):
    """A request the HTTP layer refuses before any use case runs (malformed or oversized body, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyCut(Exception):
    """An answer whose headers went out and whose body is stopped short on purpose (its content failed a check):
    the connection is closed so the client sees an incomplete body; already logged where it was decided."""


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode(value: Any) -> bytes:
    """The JSON of a view, outcome or report (its wire form); reports also say whether they are ``ok``."""
    data = to_wire(value)
    ok = getattr(value, "ok", None)
    if isinstance(data, dict) and isinstance(ok, bool):
        data["ok"] = ok
    return dumps(data)


def answer(value: Any, status: int = 200) -> Response:
    """A JSON response of a view, outcome or report (see :func:`encode`)."""
    return Response(encode(value), status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    """``{"error": {"code", "message"}}`` with ``status``."""
    return Response(dumps({"error": {"code": code, "message": message}}), status_code=status,
                    media_type="application/json")


def registry_error_response(error: RegistryError) -> Response:
    """The answer for a refusal of the registry: the same one line the CLI prints."""
    code, status = code_and_status(error)
    response = error_response(status, code, str(error))
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelog"'
    return response


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None: no such header)."""
    return bearer_of(request.headers.get("authorization"))


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header's value ``Bearer <token>`` (None: no header; "": another scheme)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole request body, refused with 413 beyond ``limit`` bytes (checked before and while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPRefusal(BODY_TOO_LARGE, "body_too_large", f"request body of {declared} bytes is over the "
                                                            f"limit of {limit} bytes")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPRefusal(BODY_TOO_LARGE, "body_too_large", f"request body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


class Body:
    """A JSON object request body with typed, checked fields (422 for anything malformed or unknown)."""

    def __init__(self, raw: bytes, allowed: set[str]) -> None:
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as error:
            raise HTTPRefusal(MALFORMED_BODY, "malformed_body", f"request body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise HTTPRefusal(MALFORMED_BODY, "malformed_body", "request body must be a JSON object")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise HTTPRefusal(MALFORMED_BODY, "malformed_body", f"unknown field(s) in request body: "
                                                                f"{', '.join(unknown)}")
        self.data: dict[str, Any] = data

    def _bad(self, name: str, wanted: str) -> HTTPRefusal:
        return HTTPRefusal(MALFORMED_BODY, "malformed_body", f"field {name!r} must be {wanted}")

    def text(self, name: str) -> str:
        """A required string field."""
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def opt_text(self, name: str) -> str | None:
        """An optional string field (null or absent: None)."""
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            raise self._bad(name, "a string or null")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean field."""
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def number(self, name: str, default: float = 0.0) -> float:
        """A number field."""
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(name, "a number")
        return float(value)

    def texts(self, name: str) -> list[str]:
        """A list of strings (absent: empty)."""
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(name, "a list of strings")
        return value

    def fields(self, name: str) -> dict[str, str | None]:
        """An object of string (or null) values (absent: empty)."""
        value = self.data.get(name, {})
        if not isinstance(value, dict) or not all(v is None or isinstance(v, str) for v in value.values()):
            raise self._bad(name, "an object of strings")
        return value

    def selector(self, name: str) -> int | str | None:
        """A version selector: a number, a string or null."""
        value = self.data.get(name)
        if isinstance(value, bool) or not (value is None or isinstance(value, int | str)):
            raise self._bad(name, "a version number, a selector string or null")
        return value

    def raw(self, name: str) -> Any:
        """A field as it came (checked by the application layer)."""
        return self.data.get(name)


def query_int(params: Mapping[str, str], name: str, default: int | None, *, minimum: int = 0,
              maximum: int | None = None) -> int | None:
    """An integer query parameter (400 when it is not one, or out of range)."""
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidInputError(f"query parameter {name}={text!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" to {maximum}" if maximum is not None else " or more"
        raise InvalidInputError(f"query parameter {name}={value} is out of range ({minimum}{upper})")
    return value


def query_flag(params: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter (true/false, 1/0)."""
    text = (params.get(name) or "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise InvalidInputError(f"query parameter {name}={text!r} must be true or false")
    return text in ("true", "1")


def point(params: Mapping[str, str]) -> dict[str, Any]:
    """The ``as_of`` / ``at_position`` of a read (400 for a malformed timestamp, or both given)."""
    as_of_text, at_position = params.get("as_of"), query_int(params, "at_position", None)
    as_of = None
    if as_of_text:
        try:
            as_of = datetime.fromisoformat(as_of_text.strip().replace(" ", "+"))
        except ValueError:
            raise InvalidInputError(f"as_of={as_of_text!r} is not an ISO 8601 timestamp") from None
        if as_of.tzinfo is None:
            as_of = as_of.astimezone()
    if as_of is not None and at_position is not None:
        raise InvalidInputError("give either as_of or at_position, not both")
    return {"as_of": as_of, "at_position": at_position}


def paged(items: list[Any], params: Mapping[str, str]) -> Response:
    """One page of a full listing: ``{"items", "total", "page", "size"}`` (``page`` from 1, ``size`` up to 1000)."""
    page = query_int(params, "page", 1, minimum=1) or 1
    size = query_int(params, "size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    start = (page - 1) * size
    chosen = items[start:start + size]
    return answer({"items": chosen, "total": len(items), "page": page, "size": size})
