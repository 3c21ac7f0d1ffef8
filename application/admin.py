"""Administrative helpers behind ``modelog clean`` and ``modelog integration``.

Wiping a registry (after a backup export), and listing / installing the optional
integrations (pip extras of the ``modelog`` distribution).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modelog.application.bootstrap import open_reader
from modelog.application.bundle import Transferred, export_to_path
from modelog.application.local import connect
from modelog.registry.artifact_store import resolve_store_root
from modelog.registry.database import create_engine_for, is_sqlite, registry_home, resolve_url
from modelog.registry.errors import InvalidInputError
from sqlalchemy import inspect, make_url, text
from sqlalchemy.engine import Connection

#: Tables that belong to modelog besides the read-model tables (``view_*``) and their history twins (``hist_*``).
LOG_TABLES = ("event_signatures", "events", "modelog_schema", "alembic_version")
#: Name prefixes of modelog's read-model tables: the views and their history twins.
READ_MODEL_PREFIXES = ("view_", "hist_")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class RegistryLocation:
    """Where a registry lives: its database URL, its home and (for SQLite) the database file."""

    url: str
    home: Path

    @property
    def is_sqlite(self) -> bool:
        """True for a SQLite file registry."""
        return is_sqlite(self.url)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for a server database."""
        if not self.is_sqlite or "///" not in self.url:
            return None
        return Path(self.url.split("///", 1)[1].split("?", 1)[0]).expanduser()

    @property
    def artifacts_dir(self) -> Path:
        """The configured artifact store (``$MODELOG_ARTIFACT_STORE``, else ``<home>/artifacts``)."""
        return resolve_store_root(self.home)

    @property
    def database_name(self) -> str:
        """The database's name in a server URL (what ``clean`` asks to be typed before wiping it)."""
        return make_url(self.url).database or ""

    def display_url(self) -> str:
        """The URL without any password."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.url)


def locate_registry(url: str | None = None, home: str | os.PathLike[str] | None = None) -> RegistryLocation:
    """The registry ``open_registry`` would open with the same arguments."""
    return RegistryLocation(resolve_url(url, home), registry_home(home))


def local_files(location: RegistryLocation) -> list[Path]:
    """The SQLite files (database, WAL, shared memory, journal) and artifact directory that exist."""
    found = []
    db = location.sqlite_path
    if db is not None:
        found += [Path(f"{db}{suffix}") for suffix in SQLITE_SUFFIXES if Path(f"{db}{suffix}").exists()]
    if location.artifacts_dir.exists():
        found.append(location.artifacts_dir)
    return found


def has_registry(location: RegistryLocation) -> bool:
    """True when there is something to wipe: SQLite files / artifacts, or modelog tables in a server database."""
    if location.is_sqlite or location.artifacts_dir.exists():
        return bool(local_files(location))
    engine = create_engine_for(location.url)
    try:
        with engine.connect() as conn:
            return any(n in LOG_TABLES or n.startswith(READ_MODEL_PREFIXES) for n in inspect(conn).get_table_names())
    finally:
        engine.dispose()


def backup_path(location: RegistryLocation, now: datetime | None = None) -> Path:
    """Where ``clean`` writes its backup bundle: ``<home>/backups/modelog-<UTC time>.tar``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return location.home / "backups" / f"modelog-{stamp}.tar"


def write_backup(location: RegistryLocation, path: Path) -> Transferred:
    """Write a bundle of the log and every artifact file it refers to to ``path`` (whole or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(location.url, home=location.home) as api:
        return export_to_path(api, path)


def count_events(location: RegistryLocation) -> int:
    """How many events the registry's log holds (0 when there is no registry yet)."""
    db = location.sqlite_path
    if db is not None and not db.exists():
        return 0
    with open_reader(location.url, home=location.home) as reader:
        return reader.store.head()


def wipe_registry(location: RegistryLocation) -> list[str]:
    """Delete the registry: SQLite files or the modelog tables of a server database, and the artifacts.

    Returns what was removed, one description per item.
    """
    removed = _wipe_sqlite(location) if location.is_sqlite else _wipe_server(location)
    if location.artifacts_dir.exists():
        shutil.rmtree(location.artifacts_dir)
        removed.append(str(location.artifacts_dir))
    return removed


def _wipe_sqlite(location: RegistryLocation) -> list[str]:
    files = [p for p in local_files(location) if p != location.artifacts_dir]
    for path in files:
        path.unlink()
    return [str(p) for p in files]


def _wipe_server(location: RegistryLocation) -> list[str]:
    engine = create_engine_for(location.url)
    try:
        with engine.begin() as conn:
            names = [n for n in inspect(conn).get_table_names() if n in LOG_TABLES or n.startswith(READ_MODEL_PREFIXES)]
            for name in names:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
            functions = _modelog_functions(conn)
            for function in functions:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    finally:
        engine.dispose()
    return [f"table {n}" for n in names] + [f"function {f}" for f in functions]


def _modelog_functions(conn: Connection) -> list[str]:
    """modelog's trigger functions (``modelog_*``) in the current schema, with their signatures."""
    query = text("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                 "WHERE n.nspname = current_schema() AND p.proname LIKE :pattern")
    rows = conn.execute(query, {"pattern": "modelog\\_%"}).scalars().all()
    return sorted(rows)


# --- integrations ------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    """An optional integration: the pip extra that installs it and the modules it provides."""

    name: str
    extra: str
    modules: tuple[str, ...]
    summary: str

    def requirements(self) -> list[str]:
        """The extra's requirement strings, as the installed ``modelog`` distribution declares them."""
        return extra_requirements(self.extra)

    def installed(self) -> bool:
        """True when every module of the integration can be imported (checked without importing it)."""
        return all(importlib.util.find_spec(module) is not None for module in self.modules)

    def install_command(self) -> list[str]:
        """The pip command that installs the integration into the running interpreter."""
        return [sys.executable, "-m", "pip", "install", *self.requirements()]


INTEGRATIONS = {
    "sklearn": Integration("sklearn", "sklearn", ("sklearn", "pandas", "joblib"),
                           "scikit-learn estimators and pandas data as artifacts"),
}


def extra_requirements(extra: str) -> list[str]:
    """Requirement strings of one extra of the installed ``modelog`` distribution."""
    marker = re.compile(r";\s*extra\s*==\s*['\"]" + re.escape(extra) + r"['\"]")
    requires = importlib.metadata.requires("modelog") or []
    return [marker.split(r)[0].strip() for r in requires if marker.search(r)]


def get_integration(name: str) -> Integration:
    """The integration called ``name``, or InvalidInputError naming the ones that exist."""
    found = INTEGRATIONS.get(name.strip().casefold())
    if found is None:
        raise InvalidInputError(f"unknown integration {name!r}; integrations: {', '.join(sorted(INTEGRATIONS))}")
    return found
