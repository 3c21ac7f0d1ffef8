"""Temporal read models: every view table gets a history twin (``hist_*``), built from the log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The twins are defined with the read models (``projections.temporal``), which this layer does not
import. The revision therefore marks the read models stale (checkpoint -1, which no log position
equals); ``modelog db upgrade`` then brings them up to date in the same call
(``application.bootstrap.upgrade_database`` -> ``projections.rebuild.catch_up``): it creates the
missing twins and rebuilds every read model and twin from the log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VERSION = 6
#: A checkpoint no log position equals: the read models are rebuilt from the log (with their twins).
STALE = -1


def upgrade() -> None:
    """Mark the read models for a rebuild from the log (which builds the history twins); record version 6."""
    conn = op.get_bind()
    if sa.inspect(conn).has_table("view_checkpoints"):
        conn.execute(sa.text(f"UPDATE view_checkpoints SET position = {STALE}"))
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
