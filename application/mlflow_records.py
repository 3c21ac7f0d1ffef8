"""What an MLflow model registry holds, as typed records: the input of ``modelog import-mlflow``.

Both readers (:mod:`application.mlflow_rest` for a tracking server, :mod:`application.mlflow_sql` for
its database) produce a :class:`MlflowSnapshot`; the import (:mod:`application.mlflow_import`) never
sees where it came from. Times are MLflow's own: milliseconds since the epoch, as MLflow records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from modelog.registry.errors import InvalidInputError

#: MLflow's stages (``current_stage``), and the one its database gives a deleted version.
MLFLOW_STAGES = ("None", "Staging", "Production", "Archived")
DELETED_STAGE = "Deleted_Internal"
#: Called with (items done, items in all) while a source is read or an import runs.
Counter = Callable[[int, int], None]


@dataclass(frozen=True)
class MlflowVersion:
    """One model version as MLflow recorded it (``deleted``: only a database source shows deleted versions)."""

    number: int
    stage: str = "None"
    description: str | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    user_id: str | None = None
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str | None = None
    status_message: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    deleted: bool = False


@dataclass(frozen=True)
class MlflowModel:
    """One registered model with its versions (by number), tags and aliases (alias -> version number)."""

    name: str
    description: str | None = None
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, int], ...] = ()
    versions: tuple[MlflowVersion, ...] = ()


@dataclass(frozen=True)
class MlflowSnapshot:
    """Every registered model of one MLflow registry, by name; ``source``: where it was read (no credentials)."""

    source: str
    models: tuple[MlflowModel, ...] = field(default_factory=tuple)

    @property
    def version_count(self) -> int:
        """How many versions (live, and deleted ones a database shows) the models hold."""
        return sum(len(m.versions) for m in self.models)


def redacted(uri: str) -> str:
    """``uri`` without a user name or password, to print and to record (never a secret in the log)."""
    parts = urlsplit(uri)
    if parts.hostname is None or "@" not in parts.netloc:
        return uri
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def source_kind(uri: str) -> str:
    """``rest`` for an MLflow tracking server URL, ``sql`` for a database URL; InvalidInputError otherwise."""
    scheme = urlsplit(uri.strip()).scheme.lower()
    if scheme in ("http", "https"):
        return "rest"
    if scheme.split("+", 1)[0] in ("sqlite", "postgresql", "postgres", "mysql", "mssql"):
        return "sql"
    raise InvalidInputError(f"--from {redacted(uri)!r} is not an MLflow tracking URI: give a server URL "
                            "(http://host:5000) or its database URL (sqlite:///path/mlflow.db, postgresql://...)")


def read_registry(uri: str, *, token: str | None = None, username: str | None = None, password: str | None = None,
                  progress: Counter | None = None) -> MlflowSnapshot:
    """Read every registered model, version, tag and alias from the MLflow registry at ``uri`` (reads only)."""
    if source_kind(uri) == "rest":
        try:
            from modelog.application.mlflow_rest import read_server
        except ModuleNotFoundError as error:  # httpx comes with the server extra
            raise InvalidInputError(f"reading an MLflow server needs {error.name}: pip install "
                                    "'modelog[server]'") from None

        return read_server(uri.strip(), token=token, username=username, password=password, progress=progress)
    from modelog.application.mlflow_sql import read_database

    return read_database(uri.strip(), progress=progress)
