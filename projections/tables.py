"""Read-model tables, updated in the append transaction, and the checkpoint that records how far they got."""

from __future__ import annotations

from modelog.registry.schema import PositionType
from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, text
from sqlalchemy.engine import Connection

metadata = MetaData()
#: The views that are the open rows of their history twins (``projections.temporal.DERIVED``): SQL views
#: in a registry, created by :func:`create_view_schema` rather than by ``metadata.create_all``. Their
#: :class:`Table` objects are what reads select from (and a scratch replay, which has no twins, creates).
derived_metadata = MetaData()

CHECKPOINT_NAME = "registry_views"

models = Table(
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
    # Kept by the projector so that reading a model (live or replayed) needs none of its version rows.
    Column("version_count", Integer, nullable=False, server_default=text("0")),
    Column("latest_version", Integer),
)

versions = Table(
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

aliases = Table(
    "view_aliases", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("alias", String(300), primary_key=True),
    Column("number", Integer, nullable=False),
)

artifact_links = Table(
    "view_artifact_links", derived_metadata,
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
    Column("position", PositionType, nullable=False),
)

run_links = Table(
    "view_run_links", derived_metadata,
    Column("model_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("run_id", String(64), primary_key=True),
    Column("pipeline", String(300), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("position", PositionType, nullable=False),
)

runs = Table(
    "view_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("pipeline", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("model_id", String(64), index=True),  # a rename rewrites its model's runs (their model_name)
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

step_runs = Table(
    "view_step_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("step", String(300), primary_key=True),
    Column("cached", Boolean, nullable=False),
    Column("cache_key", String(100), index=True),
    Column("outputs", Text, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("completed_at", String(32), nullable=False),
)

artifacts = Table(
    "view_artifacts", derived_metadata,
    Column("artifact_id", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("name_key", String(300), nullable=False),
    Column("version", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("content_hash", String(100), nullable=False),
    Column("data_type", String(300), nullable=False),
    Column("materializer", String(300), nullable=False),
    Column("run_id", String(64)),
    Column("step", String(300)),
    Column("created_at", String(32), nullable=False),
)

principals = Table(
    "view_principals", metadata,
    Column("name_key", String(300), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(300)),
    Column("disabled_at", String(32)),
    Column("disabled_by", String(300)),
)

# Never the token's hash: authentication reads the log (application.access), not this table.
tokens = Table(
    "view_tokens", metadata,
    Column("token_id", String(64), primary_key=True),
    Column("principal", String(300), nullable=False),
    Column("expires_at", String(32)),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(300)),
    Column("revoked_at", String(32)),
    Column("revoked_by", String(300)),
)

checkpoints = Table(
    "view_checkpoints", metadata,
    Column("name", String(100), primary_key=True),
    Column("position", PositionType, nullable=False),
)

#: Every read-model table, in the order a reset clears them.
VIEW_TABLES: tuple[Table, ...] = (artifact_links, run_links, aliases, versions, models, step_runs, runs, artifacts,
                                  principals, tokens)


def create_view_schema(conn: Connection) -> None:
    """Create the read-model tables, their history twins and the derived views (if missing) and the checkpoint row."""
    from modelog.projections import temporal  # defines the twins in ``metadata`` (and imports this module)

    metadata.create_all(conn, checkfirst=True)
    temporal.create_derived_views(conn)
    found = conn.execute(checkpoints.select().where(checkpoints.c.name == CHECKPOINT_NAME)).first()
    if found is None:
        conn.execute(checkpoints.insert().values(name=CHECKPOINT_NAME, position=0))


# --- version metadata -------------------------------------------------------------------
# Every value ever logged on a version, one row per key per event (the current value of a key is
# its row with the highest position): a metric logged again keeps its history.

version_metadata = Table(
    "view_version_metadata", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("position", PositionType, primary_key=True),
    Column("value", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("actor", String(300)),
)

VIEW_TABLES = (*VIEW_TABLES, version_metadata)
#: The read models that hold rows of their own (every one but the derived views): what a reset empties.
STORED_VIEW_TABLES: tuple[Table, ...] = tuple(table for table in VIEW_TABLES if table.metadata is metadata)
