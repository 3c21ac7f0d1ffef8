"""Signatures of the log's events: ``event_signatures``, append-only like ``events``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Whoever appends with a signing key (``MODELOG_SIGNING_KEY``) stores one Ed25519 signature per
event here, in the event's transaction (``registry.signing``). A log written before this revision
has no signatures: ``modelog log verify --public-key`` counts its events as appended before signing
began. Its guards: no UPDATE, DELETE or TRUNCATE, and a signature may only name a position the log
holds. The trigger texts are frozen here; the live ones are ``registry.guards``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

VERSION = 7
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE = (
    "DROP TRIGGER IF EXISTS event_signatures_no_delete",
    "CREATE TRIGGER event_signatures_no_delete BEFORE DELETE ON event_signatures "
    "BEGIN SELECT RAISE(ABORT, 'event signatures are append-only'); END",
    "DROP TRIGGER IF EXISTS event_signatures_no_update",
    "CREATE TRIGGER event_signatures_no_update BEFORE UPDATE ON event_signatures "
    "BEGIN SELECT RAISE(ABORT, 'event signatures are append-only'); END",
    "DROP TRIGGER IF EXISTS event_signatures_known",
    "CREATE TRIGGER event_signatures_known BEFORE INSERT ON event_signatures BEGIN "
    "SELECT RAISE(ABORT, 'a signature must name an event of the log') WHERE NOT EXISTS "
    "(SELECT 1 FROM events WHERE position = NEW.position); END",
)
POSTGRES = (
    "CREATE OR REPLACE FUNCTION modelog_signatures_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'event signatures are append-only (%% refused)', TG_OP; END $$",
    "DROP TRIGGER IF EXISTS event_signatures_no_change ON event_signatures",
    "CREATE TRIGGER event_signatures_no_change BEFORE UPDATE OR DELETE ON event_signatures "
    "FOR EACH ROW EXECUTE FUNCTION modelog_signatures_append_only()",
    "DROP TRIGGER IF EXISTS event_signatures_no_truncate ON event_signatures",
    "CREATE TRIGGER event_signatures_no_truncate BEFORE TRUNCATE ON event_signatures "
    "FOR EACH STATEMENT EXECUTE FUNCTION modelog_signatures_append_only()",
    "CREATE OR REPLACE FUNCTION modelog_signatures_known() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN IF NOT EXISTS (SELECT 1 FROM events e WHERE e.position = NEW.position) THEN "
    "RAISE EXCEPTION 'a signature must name an event of the log (position %% is not one)', NEW.position "
    "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$",
    "DROP TRIGGER IF EXISTS event_signatures_known ON event_signatures",
    "CREATE TRIGGER event_signatures_known BEFORE INSERT ON event_signatures "
    "FOR EACH ROW EXECUTE FUNCTION modelog_signatures_known()",
)


def upgrade() -> None:
    """Create ``event_signatures`` and its append-only guards; record version 7."""
    conn = op.get_bind()
    if not sa.inspect(conn).has_table("event_signatures"):
        op.create_table(
            "event_signatures",
            sa.Column("position", _POSITION, primary_key=True, autoincrement=False),
            sa.Column("key_id", sa.String(64), nullable=False),
            sa.Column("signature", sa.String(128), nullable=False),
        )
    for statement in POSTGRES if conn.dialect.name == "postgresql" else SQLITE:
        conn.exec_driver_sql(statement)
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
