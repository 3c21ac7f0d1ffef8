"""How the registry's errors cross HTTP: one code and status per error class, both ways.

The server answers ``{"error": {"code", "message"}}`` with the status below; the remote client
raises the same class with the same one-line message, so a caller (the CLI prints
``Error: <message>``) cannot tell a remote refusal from a local one.
"""

from __future__ import annotations

from modelog.registry.errors import (
    ArtifactIntegrityError,
    AuthenticationError,
    ConcurrencyError,
    ConflictError,
    EventSchemaError,
    ImportSourceError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    RemoteError,
    SchemaVersionError,
    StorageError,
)

#: (code, class, HTTP status), most specific class first.
ERRORS: tuple[tuple[str, type[RegistryError], int], ...] = (
    ("invalid_input", InvalidInputError, 400),
    ("not_found", NotFoundError, 404),
    ("concurrency", ConcurrencyError, 409),
    ("conflict", ConflictError, 409),
    ("storage", StorageError, 503),
    ("schema_version", SchemaVersionError, 503),
    ("artifact_integrity", ArtifactIntegrityError, 500),
    ("integrity", IntegrityError, 500),
    ("event_schema", EventSchemaError, 500),
    ("remote", RemoteError, 502),
    ("import_source", ImportSourceError, 502),
    ("unauthenticated", AuthenticationError, 401),
    ("forbidden", PermissionDeniedError, 403),
    ("registry", RegistryError, 500),
)
#: Statuses of refusals made by the HTTP layer itself (no registry error class of their own).
MALFORMED_BODY, BODY_TOO_LARGE, UNKNOWN_ROUTE, METHOD_NOT_ALLOWED = 422, 413, 404, 405


def code_and_status(error: RegistryError) -> tuple[str, int]:
    """The wire code and HTTP status of a registry error."""
    for code, kind, status in ERRORS:
        if isinstance(error, kind):
            return code, status
    return "registry", 500


def error_for(code: str, status: int, message: str) -> RegistryError:
    """The registry error a server's answer names (by code; by status for the HTTP layer's own refusals)."""
    for known, kind, _ in ERRORS:
        if known == code:
            if kind is ConcurrencyError:
                return ConcurrencyError("", -1, -1, message)
            return kind(message)
    if status in (400, 413, 422):
        return InvalidInputError(message)
    if status == 404:
        return NotFoundError(message)
    if status == 409:
        return ConflictError(message)
    if status == 401:
        return AuthenticationError(message)
    if status == 403:
        return PermissionDeniedError(message)
    if status == 503:
        return StorageError(message)
    return RemoteError(message)
