"""The composition root: the one place that wires engine, event store, projector, commands and queries.

The SDK client and the CLI both open the registry through :func:`open_registry`;
nothing is connected at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from modelog.projections.projector import ViewProjector, read_checkpoint
from modelog.projections.queries import ReadModel
from modelog.projections.rebuild import VIEWS_AHEAD, catch_up, removal_evidence
from modelog.projections.tables import checkpoints, create_view_schema
from modelog.registry.database import create_engine_for, registry_home, resolve_url, transaction
from modelog.registry.errors import StorageError
from modelog.registry.read_only import create_read_only_engine, read_only_reason, sqlite_file
from modelog.registry.schema import check_schema_version, create_log_schema, lock_schema_setup, read_schema_version
from modelog.registry.signing import signer_from_environment
from modelog.registry.store import EventStore
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from modelog.registry.service import CommandService


@dataclass
class Reader:
    """An open registry for queries only: the log and the read models, without the command service."""

    url: str
    home: Path
    engine: Engine
    store: EventStore
    reads: ReadModel
    #: Why this registry can only be read (None: it can be written).
    read_only: str | None = field(default=None, kw_only=True)

    def close(self) -> None:
        """Release every pooled database connection (and the past reads' scratch database)."""
        self.reads.close()
        self.engine.dispose()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Registry(Reader):
    """An open registry: the log, the read models and the command service over one database."""

    commands: CommandService

    def close(self) -> None:
        """Release the command service's connection, then every pooled one."""
        self.commands.close()
        super().close()

    def __enter__(self) -> Registry:
        return self


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


def open_reader(
    url: str | None = None, *, home: str | os.PathLike[str] | None = None, synchronous: str | None = None,
    read_only_fallback: bool = True,
) -> Reader:
    """Open (creating on first use) the registry for reading only: no pydantic, no write side loaded.

    A SQLite registry that cannot be written (a read-only file, directory or mount) is opened
    read-only instead when ``read_only_fallback`` (the default); otherwise StorageError names it.
    """
    resolved = resolve_url(url, home)
    blocked = read_only_reason(resolved)
    if blocked is not None:
        if not read_only_fallback:
            raise StorageError(read_only_refusal(blocked))
        return open_read_only(resolved, home=home, reason=blocked)
    try:
        return _open_writable(resolved, home, synchronous)
    except StorageError as error:
        if not (read_only_fallback and "readonly database" in str(error)):
            raise
    return open_read_only(resolved, home=home, reason="the database refuses writes (readonly database)")


def read_only_refusal(reason: str) -> str:
    """The one line a write to a registry that can only be read fails with."""
    return f"cannot write to the registry: {reason}; it can only be read"


def _open_writable(resolved: str, home: str | os.PathLike[str] | None, synchronous: str | None) -> Reader:
    engine = create_engine_for(resolved, synchronous=synchronous)
    try:
        ensure_schema(engine)
        # The signing key is named here and read on the first append (or checkpoint): reads never load it.
        store = EventStore(engine, [ViewProjector()], signer=signer_from_environment())
        held = catch_up(engine, store) == VIEWS_AHEAD  # evidence of a removal: kept, and reads replay the log
    except BaseException:
        engine.dispose()
        raise
    reads = _ReplayingReadModel(engine, store) if held else ReadModel(engine, store)
    return Reader(resolved, registry_home(home), engine, store, reads)


class _ReplayingReadModel(ReadModel):
    """Reads of a read-only registry whose read models lag its log (they cannot be caught up in place).

    "Now" is answered like a past read at the log's last position: replayed from the log,
    never served stale.
    """

    def resolve_point(self, as_of: datetime | None = None, at_position: int | None = None, *,
                      whole_commands: bool = True) -> int | None:
        """The requested point, or the log's last position for a live read."""
        point = super().resolve_point(as_of, at_position, whole_commands=whole_commands)
        return self.store.head() if point is None else point


def open_read_only(url: str, *, home: str | os.PathLike[str] | None = None,
                   reason: str = "it was opened read-only") -> Reader:
    """Open the SQLite registry at ``url`` strictly for reading (SQLite ``mode=ro``, or ``immutable=1``).

    Creates nothing and changes nothing; a write through it fails with "readonly database".
    """
    engine = create_read_only_engine(url)
    try:
        current = _views_current(engine, url)
    except BaseException:
        engine.dispose()
        raise
    store = EventStore(engine, [ViewProjector()])
    # Lagging read models (and their history twins) cannot answer: every read replays the log.
    reads = ReadModel(engine, store) if current else _ReplayingReadModel(engine, store, temporal=False)
    return Reader(url, registry_home(home), engine, store, reads, read_only=reason)


def _views_current(engine: Engine, url: str) -> bool:
    """Check a read-only registry's schema; True when its read models are at the log's end."""
    with transaction(engine) as conn:
        found = read_schema_version(conn)
        if found is None:
            raise StorageError(f"{sqlite_file(url)} holds no modelog registry (and is read-only)")
        check_schema_version(found)
        if not conn.dialect.has_table(conn, checkpoints.name):
            return False
        return read_checkpoint(conn) == EventStore(engine).head(conn)


def open_registry(
    url: str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    actor: str | None = None,
    synchronous: str | None = None,
) -> Registry:
    """Open (creating on first use) the registry at ``url`` / ``$MODELOG_DATABASE_URL`` / the home's SQLite file."""
    from modelog.registry.service import CommandService  # lazily: read-only callers (open_reader) never load pydantic

    reader = open_reader(url, home=home, synchronous=synchronous, read_only_fallback=False)
    return Registry(reader.url, reader.home, reader.engine, reader.store, reader.reads,
                    CommandService(reader.store, actor=actor))


def upgrade_database(url: str | None = None, *, home: str | os.PathLike[str] | None = None) -> tuple[int | None, int]:
    """Upgrade the registry database in place to this modelog's schema (``modelog db upgrade``).

    Returns ``(from_version, to_version)``; ``from_version`` is None for an empty database
    and 0 for a log that predates schema versioning. Every pending migration commits
    together or not at all; a database from a newer modelog is refused untouched.
    Afterwards the read models are caught up with the log (a pre-versioning log is replayed).
    Guards on the log that were dropped, disabled or replaced are reinstalled.
    """
    from modelog.registry.guards import guard_problems, install_guards
    from modelog.registry.migrations import runner

    engine = create_engine_for(resolve_url(url, home))
    try:
        with transaction(engine, write=True) as conn:
            lock_schema_setup(conn)
            found = read_schema_version(conn)
            reached = runner.upgrade(conn)
            if guard_problems(conn):  # dropped, disabled or replaced since: put modelog's own back
                install_guards(conn)
        catch_up(engine, EventStore(engine, [ViewProjector()]))
    finally:
        engine.dispose()
    return found, reached


def database_status(url: str | None = None, *, home: str | os.PathLike[str] | None = None) -> dict[str, object]:
    """Where the registry database is and whether its schema fits this modelog (``modelog db status``).

    Keys: ``url`` (password hidden), ``backend``, ``schema_version`` (None: empty), ``supported_version``,
    ``alembic_revision``, ``state`` (empty | current | upgrade needed | newer than this modelog),
    ``head`` (the last log position), ``guards`` ("intact", or what is missing or disabled) and
    ``tampering`` (None, or the traces of events removed from the log) and ``signing`` (whether the log is
    signed, and from which position: then every append needs ``MODELOG_SIGNING_KEY``). Reads only; creates nothing.
    """
    from modelog.registry.guards import guard_problems
    from modelog.registry.migrations.runner import applied_revision
    from modelog.registry.schema import SCHEMA_VERSION
    from sqlalchemy.engine import make_url

    resolved = resolve_url(url, home)
    parsed = make_url(resolved)
    status: dict[str, object] = {
        "url": parsed.render_as_string(hide_password=True), "backend": parsed.get_backend_name(),
        "schema_version": None, "supported_version": SCHEMA_VERSION, "alembic_revision": None,
        "state": "empty", "head": 0, "guards": None, "tampering": None, "signing": None,
    }
    if parsed.get_backend_name() == "sqlite" and not _sqlite_file_exists(parsed.database):
        return status
    engine = create_read_only_engine(resolved) if read_only_reason(resolved) else create_engine_for(resolved)
    try:
        with transaction(engine) as conn:
            found = read_schema_version(conn)
            status["schema_version"] = found
            status["alembic_revision"] = applied_revision(conn)
            status["head"] = head = EventStore(engine).head(conn) if found is not None else 0
            if found is not None:
                status["guards"] = "; ".join(guard_problems(conn)) or "intact"
                status["tampering"] = "; ".join(removal_evidence(conn, head)) or None
            if found is not None and found >= SIGNED_SCHEMA:
                first = EventStore(engine).signed_from(conn)
                status["signing"] = ("unsigned (no event carries a signature)" if first is None else
                                     f"signed from position {first} on: every append needs MODELOG_SIGNING_KEY")
    finally:
        engine.dispose()
    status["state"] = _schema_state(found, SCHEMA_VERSION)
    return status


#: The schema version that added ``event_signatures`` (migration 0007).
SIGNED_SCHEMA = 7


def _sqlite_file_exists(database: str | None) -> bool:
    if not database:
        return False
    return database == ":memory:" or Path(database).expanduser().exists()


def _schema_state(found: int | None, supported: int) -> str:
    if found is None:
        return "empty"
    if found > supported:
        return "newer than this modelog"
    return "current" if found == supported else "upgrade needed"
