"""Read models of principals and API tokens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Principals and tokens are events in the log (``principal-<key>`` and ``token-<id>`` streams);
these two tables list them. A log written before this revision has no such events, so the
tables start empty and the read models' checkpoint stays where it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VERSION = 5


def upgrade() -> None:
    """Create ``view_principals`` and ``view_tokens`` (unless an earlier open already made them); record version 5."""
    if sa.inspect(op.get_bind()).has_table("view_principals"):
        op.get_bind().execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))
        return
    op.create_table(
        "view_principals",
        sa.Column("name_key", sa.String(300), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(300)),
        sa.Column("disabled_at", sa.String(32)),
        sa.Column("disabled_by", sa.String(300)),
    )
    op.create_table(
        "view_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(300), nullable=False),
        sa.Column("expires_at", sa.String(32)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(300)),
        sa.Column("revoked_at", sa.String(32)),
        sa.Column("revoked_by", sa.String(300)),
    )
    op.get_bind().execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
