"""Tables of the event log and the schema-version record, plus the guards (``registry.guards``)."""

from __future__ import annotations

from modelog.registry import guards
from modelog.registry.errors import SchemaVersionError
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Connection

#: Version of the database layout this code writes; bumped by every migration.
SCHEMA_VERSION = 10
#: The version of a log created before the schema was versioned (no ``modelog_schema`` table).
PRE_VERSIONING = 0

metadata = MetaData()

# BigInteger is rendered as INTEGER on SQLite so that the column is the rowid alias.
PositionType = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", PositionType, primary_key=True, autoincrement=False),
    Column("stream_id", String(300), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    Index("ix_events_recorded_at", "recorded_at"),
)

#: One Ed25519 signature per signed event (``registry.signing``), written in the event's own transaction.
#: Outside the hashed contents, so an event hashes the same signed or not; append-only like ``events``. No foreign
#: key to ``events``: it would make PostgreSQL refuse ``TRUNCATE events`` before its guard does (and a signature
#: of a position the log does not hold is never read).
event_signatures = Table(
    "event_signatures",
    metadata,
    Column("position", PositionType, primary_key=True, autoincrement=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

schema_info = Table(
    "modelog_schema",
    metadata,
    Column("component", String(50), primary_key=True),
    Column("version", Integer, nullable=False),
)

def install_guards(conn: Connection) -> None:
    """Install the triggers that keep ``events`` (and its signatures) append-only and chained (``registry.guards``)."""
    guards.install_guards(conn)


def read_schema_version(conn: Connection, component: str = "registry") -> int | None:
    """The schema version recorded in the database, or None for an empty database.

    A log without the version table predates schema versioning: version 0, which
    ``modelog db upgrade`` adopts in place.
    """
    if not conn.dialect.has_table(conn, schema_info.name):
        return PRE_VERSIONING if conn.dialect.has_table(conn, events.name) else None
    row = conn.execute(
        schema_info.select().where(schema_info.c.component == component)
    ).first()
    return None if row is None else int(row.version)


def check_schema_version(found: int | None, expected: int = SCHEMA_VERSION) -> None:
    """Refuse a database written by newer code, or one that needs ``modelog db upgrade``."""
    if found is not None and found > expected:
        raise SchemaVersionError(
            f"database schema version {found} is newer than this modelog supports ({expected}); upgrade modelog"
        )
    if found is not None and found < expected:
        raise SchemaVersionError(
            f"database schema version {found} is older than {expected}; run 'modelog db upgrade'"
        )


def create_log_schema(conn: Connection) -> None:
    """Create the log tables and guards if missing and record the schema version."""
    metadata.create_all(conn, checkfirst=True)
    install_guards(conn)
    if read_schema_version(conn) is None:
        conn.execute(schema_info.insert().values(component="registry", version=SCHEMA_VERSION))


def lock_schema_setup(conn: Connection) -> None:
    """Serialise concurrent first-time set-up (SQLite already holds its write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
