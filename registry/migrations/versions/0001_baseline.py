"""Baseline: the event log, the schema-version record, the append-only guards and the read-model tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-01

A frozen copy of schema version 1. It creates only what is missing, so it also adopts
a pre-versioning database (an ``events`` table without ``modelog_schema``, "version 0")
in place: every event stays, the read models are created empty and replayed afterwards.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
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

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

VERSION = 1

metadata = MetaData()
position_type = BigInteger().with_variant(Integer(), "sqlite")

Table(
    "events", metadata,
    Column("position", position_type, primary_key=True, autoincrement=False),
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
Table(
    "modelog_schema", metadata,
    Column("component", String(50), primary_key=True),
    Column("version", Integer, nullable=False),
)
Table(
    "view_models", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False, index=True),
    Column("license", Text), Column("description", Text), Column("audience", Text), Column("use_cases", Text),
    Column("limitations", Text), Column("trade_offs", Text), Column("ethics", Text),
    Column("tags", Text, nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("created_by", String(300)),
)
Table(
    "view_versions", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False),
    Column("description", Text),
    Column("tags", Text, nullable=False),
    Column("stage", String(20), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("created_by", String(300)),
    Column("created_run_id", String(64)),
    Index("ix_view_versions_stage", "model_id", "stage"),
    Index("ix_view_versions_name", "model_id", "name_key"),
)
Table(
    "view_aliases", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("alias", String(300), primary_key=True),
    Column("number", Integer, nullable=False),
)
Table(
    "view_artifact_links", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("pipeline", String(300), primary_key=True),
    Column("step", String(300), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("link_version", Integer, primary_key=True),
    Column("artifact_id", String(64), nullable=False),
    Column("artifact_name", String(300), nullable=False),
    Column("artifact_version", Integer, nullable=False),
    Column("content_hash", String(100), nullable=False),
    Column("run_id", String(64)),
    Column("created_at", String(32), nullable=False),
    Column("position", position_type, nullable=False),
)
Table(
    "view_run_links", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("run_id", String(64), primary_key=True),
    Column("pipeline", String(300), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("position", position_type, nullable=False),
)
Table(
    "view_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("pipeline", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("model_id", String(64)),
    Column("model_name", String(300)),
    Column("version_number", Integer),
    Column("created_version", Boolean, nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("steps_completed", Integer, nullable=False),
    Column("failed_step", String(300)),
    Column("error_type", String(300)),
    Column("error_message", Text),
    Column("started_by", String(300)),
)
Table(
    "view_step_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("step", String(300), primary_key=True),
    Column("cached", Boolean, nullable=False),
    Column("cache_key", String(100), index=True),
    Column("outputs", Text, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("completed_at", String(32), nullable=False),
)
Table(
    "view_artifacts", metadata,
    Column("artifact_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False),
    Column("version", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("content_hash", String(100), nullable=False, index=True),
    Column("data_type", String(300), nullable=False),
    Column("materializer", String(300), nullable=False),
    Column("run_id", String(64)),
    Column("step", String(300)),
    Column("created_at", String(32), nullable=False),
    Index("ix_view_artifacts_name", "name_key", "version"),
)
Table(
    "view_checkpoints", metadata,
    Column("name", String(100), primary_key=True),
    Column("position", position_type, nullable=False),
)

SQLITE_GUARDS = (
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
)

POSTGRES_GUARDS = (
    "CREATE OR REPLACE FUNCTION modelog_events_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'events are append-only (%% refused)', TG_OP; END $$",
    "DROP TRIGGER IF EXISTS events_no_change ON events",
    "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION modelog_events_append_only()",
    "DROP TRIGGER IF EXISTS events_no_truncate ON events",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION modelog_events_append_only()",
)


def upgrade() -> None:
    """Create whatever of schema version 1 is missing, install the guards, record version 1."""
    conn = op.get_bind()
    metadata.create_all(conn, checkfirst=True)
    for statement in POSTGRES_GUARDS if conn.dialect.name == "postgresql" else SQLITE_GUARDS:
        conn.exec_driver_sql(statement)
    _ensure_row(conn, "SELECT 1 FROM view_checkpoints WHERE name = 'registry_views'",
                "INSERT INTO view_checkpoints (name, position) VALUES ('registry_views', 0)")
    _ensure_row(conn, "SELECT 1 FROM modelog_schema WHERE component = 'registry'",
                f"INSERT INTO modelog_schema (component, version) VALUES ('registry', {VERSION})")
    conn.execute(text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def _ensure_row(conn: Connection, probe: str, insert: str) -> None:
    if conn.execute(text(probe)).first() is None:
        conn.execute(text(insert))


def downgrade() -> None:
    """Never: dropping the baseline would drop the event log."""
    raise NotImplementedError("the baseline cannot be downgraded: it holds the event log")
