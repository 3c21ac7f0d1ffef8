"""Read an MLflow model registry straight from its tracking database (``sqlite:///...``, ``postgresql://...``).

Reads only: a SQLite file is opened read-only (``mode=ro``: a missing file is refused, never
created), a PostgreSQL session is read-only, and nothing but SELECTs on MLflow's registry tables
is run: ``registered_models``, ``registered_model_tags``, ``registered_model_aliases``,
``model_versions`` and ``model_version_tags``. Unlike a server, the database still holds deleted
versions (stage ``Deleted_Internal``, their details redacted by MLflow): they are read as deleted.
MLflow 3's workspaces: only the ``default`` workspace is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelog.application.mlflow_records import (
    DELETED_STAGE,
    Counter,
    MlflowModel,
    MlflowSnapshot,
    MlflowVersion,
    redacted,
)
from modelog.registry.errors import ImportSourceError, InvalidInputError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

REQUIRED = ("registered_models", "model_versions", "registered_model_tags", "model_version_tags")
ALIASES = "registered_model_aliases"  # since MLflow 2.3
DEFAULT_WORKSPACE = "default"


def _engine(uri: str) -> Engine:
    """A read-only engine on MLflow's database; refuses a SQLite file that does not exist."""
    try:
        url = make_url(uri)
    except ArgumentError:
        raise InvalidInputError(f"--from {redacted(uri)!r} is not a database URL") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ImportSourceError(f"there is no MLflow database file at {path or '(none given)'!r}")
        read_only = f"sqlite:///file:{quote(str(Path(path).resolve()))}?mode=ro&uri=true"
        return create_engine(read_only)
    if backend == "postgresql":
        if url.drivername == "postgresql":  # MLflow's URLs name no driver; psycopg 3 is modelog's
            url = url.set(drivername="postgresql+psycopg")
        given = url.query.get("options")  # e.g. a search_path: kept, with the read-only setting added
        kept = [given] if isinstance(given, str) else list(given or ())
        options = " ".join([*kept, "-c default_transaction_read_only=on"])
        return create_engine(url.update_query_dict({"options": options}))
    return create_engine(url)


def _rows(conn: Connection, sql: str, workspace: bool) -> list[Any]:
    where = f" WHERE workspace = '{DEFAULT_WORKSPACE}'" if workspace else ""
    return list(conn.execute(text(sql.format(where=where))).mappings())


def read_database(uri: str, *, progress: Counter | None = None) -> MlflowSnapshot:
    """Every registered model in MLflow's database at ``uri``, with its versions (deleted ones too), tags and
    aliases."""
    shown = redacted(uri)
    try:
        engine = _engine(uri)
    except NoSuchModuleError as error:
        raise ImportSourceError(f"cannot open {shown}: no database driver for it ({error})") from None
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            missing = [t for t in REQUIRED if t not in tables]
            if missing:
                raise ImportSourceError(f"{shown} is not an MLflow tracking database: it has no table "
                                        f"{', '.join(missing)}")
            columns = {c["name"] for c in inspect(conn).get_columns("registered_models")}
            return _read(conn, shown, "workspace" in columns, ALIASES in tables, progress)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error  # the driver's own message, when there is one
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise ImportSourceError(f"cannot read the MLflow database {shown}: {first}") from None
    except ModuleNotFoundError as error:
        raise ImportSourceError(f"cannot open {shown}: its database driver is not installed ({error})") from None
    finally:
        engine.dispose()


def _read(conn: Connection, shown: str, workspace: bool, with_aliases: bool,
          progress: Counter | None) -> MlflowSnapshot:
    model_tags: dict[str, list[tuple[str, str]]] = {}
    for row in _rows(conn, "SELECT name, key, value FROM registered_model_tags{where} ORDER BY name, key",
                     workspace):
        model_tags.setdefault(row["name"], []).append((row["key"], row["value"] or ""))
    version_tags: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for row in _rows(conn, "SELECT name, version, key, value FROM model_version_tags{where} "
                           "ORDER BY name, version, key", workspace):
        version_tags.setdefault((row["name"], int(row["version"])), []).append((row["key"], row["value"] or ""))
    aliases: dict[str, list[tuple[str, int]]] = {}
    if with_aliases:
        for row in _rows(conn, "SELECT name, alias, version FROM registered_model_aliases{where} "
                               "ORDER BY name, alias", workspace):
            aliases.setdefault(row["name"], []).append((row["alias"], int(row["version"])))
    versions: dict[str, list[MlflowVersion]] = {}
    for row in _rows(conn, "SELECT name, version, creation_time, last_updated_time, description, user_id, "
                           "current_stage, source, run_id, run_link, status, status_message FROM model_versions"
                           "{where} ORDER BY name, version", workspace):
        number, deleted = int(row["version"]), row["current_stage"] == DELETED_STAGE
        versions.setdefault(row["name"], []).append(MlflowVersion(
            number=number, stage="None" if deleted else (row["current_stage"] or "None"),
            description=row["description"] or None, creation_timestamp=row["creation_time"],
            last_updated_timestamp=row["last_updated_time"], user_id=row["user_id"] or None,
            source=None if deleted else row["source"] or None, run_id=None if deleted else row["run_id"] or None,
            run_link=None if deleted else row["run_link"] or None, status=row["status"] or None,
            status_message=row["status_message"] or None,
            tags=tuple(version_tags.get((row["name"], number), ())), deleted=deleted,
        ))
    listed = _rows(conn, "SELECT name, creation_time, last_updated_time, description FROM registered_models"
                         "{where} ORDER BY name", workspace)
    models = []
    for done, row in enumerate(listed, start=1):
        name = row["name"]
        models.append(MlflowModel(
            name=name, description=row["description"] or None, creation_timestamp=row["creation_time"],
            last_updated_timestamp=row["last_updated_time"], tags=tuple(model_tags.get(name, ())),
            aliases=tuple(aliases.get(name, ())), versions=tuple(versions.get(name, ())),
        ))
        if progress is not None:
            progress(done, len(listed))
    return MlflowSnapshot(source=shown, models=tuple(models))
