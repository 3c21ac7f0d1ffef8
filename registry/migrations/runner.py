"""Run the packaged Alembic migrations on one connection, inside the caller's transaction.

The caller (``sdk.bootstrap.upgrade_database``) opens a write transaction and takes the
schema set-up lock; every pending revision then runs in it and commits together, or
not at all. ``modelog_schema`` is the version of record: a database created by
``open_registry`` (which builds the current schema directly, without Alembic) has no
``alembic_version`` row yet and is stamped at its recorded version before upgrading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelog.registry.errors import SchemaVersionError
from modelog.registry.schema import SCHEMA_VERSION, read_schema_version
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent
ALEMBIC_TABLE = "alembic_version"


def revision_id(version: int) -> str:
    """The Alembic revision id of a schema version (``1`` -> ``"0001"``)."""
    return f"{version:04d}"


def applied_revision(conn: Connection) -> str | None:
    """The revision Alembic recorded, or None (never migrated by Alembic)."""
    if not conn.dialect.has_table(conn, ALEMBIC_TABLE):
        return None
    row = conn.exec_driver_sql(f"SELECT version_num FROM {ALEMBIC_TABLE}").first()
    return None if row is None else str(row[0])


def refuse_newer(found: int | None) -> None:
    """Raise SchemaVersionError when the database was written by a newer modelog."""
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"database schema version {found} is newer than this modelog supports ({SCHEMA_VERSION}); "
            "upgrade modelog instead of the database"
        )


def upgrade(conn: Connection) -> int:
    """Bring the database on ``conn`` to the newest schema version; return that version."""
    recorded = read_schema_version(conn)
    refuse_newer(recorded)
    config = _config(conn)
    if recorded and applied_revision(conn) is None:
        _alembic().command.stamp(config, revision_id(recorded))
    _alembic().command.upgrade(config, revision_id(SCHEMA_VERSION))
    reached = read_schema_version(conn)
    if reached != SCHEMA_VERSION:
        raise SchemaVersionError(f"migrations stopped at schema version {reached}, expected {SCHEMA_VERSION}")
    return reached


def _config(conn: Connection) -> Any:
    config = _alembic().config.Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _alembic() -> Any:
    try:
        import alembic.command
        import alembic.config
    except ImportError as error:  # the optional extra is missing
        raise SchemaVersionError(
            "upgrading the database schema needs Alembic: pip install 'modelog[migrations]'"
        ) from error
    return alembic
