"""Alembic migrations of the registry database, shipped inside the package.

Each revision is a frozen snapshot of one schema change: it defines the tables it
touches itself and never imports the live table definitions (``registry.schema``,
``projections.tables``), which move on with the code. Revision ids are the schema
version numbers, zero-padded ("0001" is schema version 1), and every revision
records its number in ``modelog_schema``, the version the code checks on open.
:mod:`registry.migrations.runner` runs them; ``modelog db upgrade`` calls it.
"""
