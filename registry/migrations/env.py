"""Alembic environment: migrate the connection the runner hands over, inside its transaction."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'modelog db upgrade' (registry.migrations.runner), not bare alembic")

# The runner has already begun the transaction (and taken the set-up lock): every
# revision commits together or not at all.
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
