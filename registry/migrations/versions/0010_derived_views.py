"""Derived views: links, run links and artifacts become SQL views over their history twins' open rows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``view_artifact_links``, ``view_run_links`` and ``view_artifacts`` held a copy of exactly the open rows of
``hist_artifact_links``, ``hist_run_links`` and ``hist_artifacts`` (their rows are only inserted and
deleted, never updated). Each is now a view over its twin, so a link is written once. The tables are
dropped and the views created over the twins that are there; a registry without twins yet (before
version 6) gets twins and views from the rebuild ``modelog db upgrade`` runs. Nothing is rebuilt here:
the twins already hold every row (``modelog projections verify`` compares both with the log). The
column lists are this version's, written out: this layer does not import the read models.

It also indexes the runs by model (``view_runs`` and the open rows of ``hist_runs``): a model's rename
rewrites its runs' rows (they show its name), which was a scan of every run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

VERSION = 10
#: ``valid_to`` of an open twin row (``projections.temporal.OPEN``).
OPEN = 2**62
#: Each derived view, its twin and its columns, in order.
DERIVED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("view_artifact_links", "hist_artifact_links",
     ("model_id", "number", "pipeline", "step", "name", "kind", "link_version", "artifact_id", "artifact_name",
      "artifact_version", "content_hash", "run_id", "created_at", "position")),
    ("view_run_links", "hist_run_links", ("model_id", "number", "run_id", "pipeline", "created_at", "position")),
    ("view_artifacts", "hist_artifacts",
     ("artifact_id", "name", "name_key", "version", "uri", "content_hash", "data_type", "materializer", "run_id",
      "step", "created_at")),
)

#: The runs' indexes by model: the view's, and the twin's (its open rows: a revision closes ``valid_to = OPEN``).
RUN_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (("view_runs", "ix_view_runs_model_id", ("model_id",)),
               ("hist_runs", "ix_hist_runs_model_id_valid_to", ("model_id", "valid_to")))


def upgrade() -> None:
    """Replace each derived table by a view over its twin (when the twin exists), index runs by model; version 10."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    tables, views = set(inspector.get_table_names()), set(inspector.get_view_names())
    quote = conn.dialect.identifier_preparer.quote
    for view, twin, columns in DERIVED:
        if view in tables:
            op.drop_table(view)
        if twin in tables and view not in views:
            listed = ", ".join(quote(column) for column in columns)
            conn.execute(sa.text(f"CREATE VIEW {quote(view)} AS SELECT {listed} FROM {quote(twin)} "
                                 f"WHERE valid_to = {OPEN}"))
    for table, index, indexed in RUN_INDEXES:
        if table in tables and index not in {found["name"] for found in inspector.get_indexes(table)}:
            op.create_index(index, table, list(indexed))
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
