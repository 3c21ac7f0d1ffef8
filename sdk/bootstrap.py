"""The composition root: the one place that wires engine, event store, projector, commands and queries.

The SDK client and the CLI both open the registry through :func:`open_registry`;
nothing is connected at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from projections.projector import ViewProjector
from projections.queries import ReadModel
from projections.rebuild import catch_up
from projections.tables import create_view_schema
from registry.database import create_engine_for, registry_home, resolve_url, transaction
from registry.schema import check_schema_version, create_log_schema, lock_schema_setup, read_schema_version
from registry.service import CommandService
from registry.store import EventStore


@dataclass
class Registry:
    """An open registry: the log, the command service and the read models over one database."""

    url: str
    home: Path
    engine: Engine
    store: EventStore
    commands: CommandService
    reads: ReadModel

    def close(self) -> None:
        """Release every pooled database connection."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ensure_schema(engine: Engine) -> None:
    """Create the log and read-model tables on first use; refuse a database from newer code."""
    with transaction(engine) as conn:
        found = read_schema_version(conn)
    check_schema_version(found)
    if found is not None:
        return
    with transaction(engine, write=True) as conn:
        lock_schema_setup(conn)
        create_log_schema(conn)
        create_view_schema(conn)


def open_registry(
    url: str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    actor: str | None = None,
    synchronous: str | None = None,
) -> Registry:
    """Open (creating on first use) the registry at ``url`` / ``$MODELOG_DATABASE_URL`` / the home's SQLite file."""
    resolved = resolve_url(url, home)
    engine = create_engine_for(resolved, synchronous=synchronous)
    try:
        ensure_schema(engine)
        store = EventStore(engine, [ViewProjector()])
        catch_up(engine, store)
    except BaseException:
        engine.dispose()
        raise
    return Registry(resolved, registry_home(home), engine, store, CommandService(store, actor=actor),
                    ReadModel(engine, store))
