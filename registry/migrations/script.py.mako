"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None

#: The schema version this revision brings the database to (int(revision)).
VERSION = int(revision)


def upgrade() -> None:
    """Apply the change, then record the new version in ``modelog_schema``."""
    ${upgrades if upgrades else "pass"}
    op.execute(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'")


def downgrade() -> None:
    """Event logs are never downgraded in place: export, install the older modelog, import."""
    raise NotImplementedError("downgrading a registry database is not supported")
