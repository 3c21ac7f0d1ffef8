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


def surrogate_in(text: str) -> str | None:
    """The first lone surrogate in ``text`` as ``U+DCFF`` (what undecodable bytes become in arguments, file
    names and the environment), or None when ``text`` is valid Unicode."""
    if text.isascii():
        return None
    bad = next((ch for ch in text if "\ud800" <= ch <= "\udfff"), None)
    return None if bad is None else f"U+{ord(bad):04X}"


def as_registry_error(error: BaseException) -> RegistryError | None:
    """The refusal a user should see for an error raised below the registry's own checks, or None.

    Text that is not valid Unicode (a lone surrogate reaching a database driver or an encoder) and
    a number too large for a database column are bad input, whichever lookup met them first.
    """
    if isinstance(error, UnicodeEncodeError) and "surrogate" in str(error.reason):
        bad = f"U+{ord(error.object[error.start]):04X}"
        return InvalidInputError(f"text holds {bad}, which is not valid Unicode (undecodable bytes in an argument, "
                                 "a file name or the environment?)")
    if isinstance(error, OverflowError):
        return InvalidInputError(f"a number is out of range ({error})")
    return None


class ImportSourceError(RegistryError):
    """A registry to import from (an MLflow server or database) cannot be read: unreachable, refusing the
    credentials, or not such a registry at all."""


class AuthenticationError(RegistryError):
    """A request to the server carries no API token, or one that is unknown, expired, revoked or disabled."""


class PermissionDeniedError(RegistryError):
    """The authenticated principal is not allowed to do this."""
