"""Past reads on PostgreSQL: the version twin's covering index in number order, and planner statistics.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

``ix_hist_versions_model_id_valid_to_valid_from_number`` is replaced by
``ix_hist_versions_model_id_number_valid_from_valid_to``: a model's version count and latest version as
of a position, read index-only, with the latest the first valid entry from the top. Building the index
is all it takes (no rebuild from the log). On PostgreSQL the registry's tables are also ANALYZEd: a
registry imported or rebuilt before this version may never have had its statistics gathered (no
autovacuum), and past reads are planned poorly without them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

VERSION = 9
OLD_INDEX = "ix_hist_versions_model_id_valid_to_valid_from_number"
NEW_INDEX = "ix_hist_versions_model_id_number_valid_from_valid_to"


def upgrade() -> None:
    """Swap the version twin's covering index (when the twin exists), gather statistics; record version 9."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    if inspector.has_table("hist_versions"):  # otherwise ``modelog db upgrade`` creates the twin with the new index
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {OLD_INDEX}"))
        if NEW_INDEX not in {index["name"] for index in inspector.get_indexes("hist_versions")}:
            op.create_index(NEW_INDEX, "hist_versions", ["model_id", "number", "valid_from", "valid_to"])
    if conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer.quote
        conn.execute(sa.text("ANALYZE " + ", ".join(quote(name) for name in inspector.get_table_names())))
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
