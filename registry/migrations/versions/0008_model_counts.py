"""Past model counts: ``hist_model_counts`` (the number of models after each registration or deletion).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Like ``0006``: the table is defined with the read models (``projections.temporal``), which this layer
does not import, so the revision marks the read models stale; ``modelog db upgrade`` then creates the
missing table and rebuilds every read model and history table from the log in the same call
(``application.bootstrap.upgrade_database`` -> ``projections.rebuild.catch_up``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERSION = 8
#: A checkpoint no log position equals: the read models are rebuilt from the log (with their history).
STALE = -1


def upgrade() -> None:
    """Mark the read models for a rebuild from the log (which fills ``hist_model_counts``); record version 8."""
    conn = op.get_bind()
    if sa.inspect(conn).has_table("view_checkpoints"):
        conn.execute(sa.text(f"UPDATE view_checkpoints SET position = {STALE}"))
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
