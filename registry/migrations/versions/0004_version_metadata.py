"""The metadata logged on model versions gets its read model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

``view_version_metadata`` holds every value logged on a version (``ModelVersionMetadataLogged``
events). A log written before this revision has no such events, so the table starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VERSION = 4
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``view_version_metadata`` (unless an earlier open already made it); record version 4."""
    conn = op.get_bind()
    if sa.inspect(conn).has_table("view_version_metadata"):
        conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))
        return
    op.create_table(
        "view_version_metadata",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("position", _POSITION, primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(300)),
    )
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
