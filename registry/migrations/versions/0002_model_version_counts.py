"""Model rows carry their version count and latest version number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Reading a model, live or at a past point, then needs none of its version rows: the projector
keeps both columns up to date. The migration adds them and fills them from the version rows
already projected, in the same transaction as the schema-version bump.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VERSION = 2

_FILL = (
    "UPDATE view_models SET "
    "version_count = (SELECT count(*) FROM view_versions v WHERE v.model_id = view_models.model_id), "
    "latest_version = (SELECT max(v.number) FROM view_versions v WHERE v.model_id = view_models.model_id)"
)


def upgrade() -> None:
    """Add and fill ``view_models.version_count`` and ``view_models.latest_version``; record version 2."""
    op.add_column("view_models", sa.Column("version_count", sa.Integer(), nullable=False,
                                           server_default=sa.text("0")))
    op.add_column("view_models", sa.Column("latest_version", sa.Integer(), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.text(_FILL))
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
