"""The registry's exception tree: every error the core raises derives from :class:`RegistryError`."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error raised by the registry core."""


class InvalidInputError(RegistryError, ValueError):
    """A command or query argument is malformed (empty name, unknown stage, ...)."""


class NotFoundError(RegistryError, LookupError):
    """A model, version, run or artifact does not exist (at the requested point in time)."""


class ConflictError(RegistryError):
    """The command contradicts the current state (name taken, stage occupied, ...)."""


class ConcurrencyError(RegistryError):
    """Another writer appended to the stream first; re-read and decide again."""

    def __init__(self, stream_id: str, expected: int, actual: int, detail: str | None = None) -> None:
        super().__init__(detail or f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventSchemaError(RegistryError):
    """A stored event has an unknown type or a schema version newer than this code."""


class IntegrityError(RegistryError):
    """The log or an artifact failed an integrity check (hash chain, content hash)."""


class ArtifactIntegrityError(IntegrityError):
    """A stored artifact file is missing, or its content does not match the hash in the log."""


class StorageError(RegistryError):
    """The database failed (locked, read-only, full, unreachable) and nothing was written."""


class SchemaVersionError(RegistryError):
    """The database schema is newer than this code, or needs an upgrade first."""


class RemoteError(RegistryError):
    """The registry server could not be reached, did not answer in time, or gave an answer that is not the API's."""


class AuthenticationError(RegistryError):
    """A request to the server carries no API token, or one that is unknown, expired, revoked or disabled."""


class PermissionDeniedError(RegistryError):
    """The authenticated principal is not allowed to do this."""
