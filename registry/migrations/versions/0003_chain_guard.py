"""The chain and clock guard on ``events``, and the append-only guards reinstalled as they now are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

An inserted event must continue the chain (position = head + 1, prev_hash = the head's hash) and be
recorded no earlier than the head and at most 60 s after the database's clock, whoever inserts it.
The trigger texts are frozen here; the live ones are ``registry.guards``, which the code checks
before every write, so a later change to them comes with its own revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VERSION = 3
GENESIS = "0" * 64

SQLITE = (
    "DROP TRIGGER IF EXISTS events_chain",
    "CREATE TRIGGER events_chain BEFORE INSERT ON events BEGIN "
    "SELECT RAISE(ABORT, 'events must continue the hash chain: position = head + 1 and prev_hash = the "
    "head''s hash') WHERE NEW.position IS NOT coalesce((SELECT max(position) FROM events), 0) + 1 "
    f"OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM events WHERE position = NEW.position - 1), '{GENESIS}'); "
    "SELECT RAISE(ABORT, 'events must be recorded in time order and not ahead of the clock') "
    "WHERE NEW.recorded_at < coalesce((SELECT recorded_at FROM events WHERE position = NEW.position - 1), '') "
    "OR NEW.recorded_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+60 seconds'); END",
    "DROP TRIGGER IF EXISTS events_no_delete",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "DROP TRIGGER IF EXISTS events_no_update",
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
)

_CHAIN_BODY = (
    " DECLARE head_position bigint; head_hash text; head_time text; "
    "BEGIN "
    "SELECT e.position, e.hash, e.recorded_at INTO head_position, head_hash, head_time "
    "FROM events e ORDER BY e.position DESC LIMIT 1; "
    f"IF NOT FOUND THEN head_position := 0; head_hash := '{GENESIS}'; head_time := ''; END IF; "
    "IF NEW.position IS DISTINCT FROM head_position + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN "
    "RAISE EXCEPTION 'events must continue the hash chain: position = head + 1 and prev_hash = the head''s hash "
    "(got position %%, the head is at %%)', NEW.position, head_position USING ERRCODE = 'check_violation'; "
    "END IF; "
    "IF NEW.recorded_at COLLATE \"C\" < head_time OR NEW.recorded_at COLLATE \"C\" > "
    "to_char((clock_timestamp() AT TIME ZONE 'UTC') + interval '60 seconds', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') THEN "
    "RAISE EXCEPTION 'events must be recorded in time order and not ahead of the clock (got %%, the head has %%)', "
    "NEW.recorded_at, head_time USING ERRCODE = 'check_violation'; "
    "END IF; "
    "RETURN NEW; END "
)
POSTGRES = (
    "CREATE OR REPLACE FUNCTION modelog_events_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'events are append-only (%% refused)', TG_OP; END $$",
    f"CREATE OR REPLACE FUNCTION modelog_events_chain() RETURNS trigger LANGUAGE plpgsql AS $${_CHAIN_BODY}$$",
    "DROP TRIGGER IF EXISTS events_chain ON events",
    "CREATE TRIGGER events_chain BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION modelog_events_chain()",
    "DROP TRIGGER IF EXISTS events_no_change ON events",
    "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION modelog_events_append_only()",
    "DROP TRIGGER IF EXISTS events_no_truncate ON events",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION modelog_events_append_only()",
)


def upgrade() -> None:
    """Install the chain guard (and the append-only guards afresh); record version 3."""
    conn = op.get_bind()
    for statement in POSTGRES if conn.dialect.name == "postgresql" else SQLITE:
        conn.exec_driver_sql(statement)
    conn.execute(sa.text(f"UPDATE modelog_schema SET version = {VERSION} WHERE component = 'registry'"))


def downgrade() -> None:
    """Never, like every revision: to go back, export the log, install the older modelog and import."""
    raise NotImplementedError("modelog revisions do not downgrade; export the log and import it instead")
