"""Where the registry is: its home and its database URL, from arguments or the environment.

Kept free of SQLAlchemy so that shell completion can find a SQLite registry without loading it.
"""

from __future__ import annotations

import os
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def registry_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The registry home: ``home``, else ``$MODELOG_HOME``, else ``~/.modelog``."""
    chosen = home or os.environ.get("MODELOG_HOME") or Path.home() / ".modelog"
    return Path(chosen).expanduser()


def resolve_url(url: str | None = None, home: str | os.PathLike[str] | None = None) -> str:
    """The database URL: ``url``, else ``$MODELOG_DATABASE_URL``, else a SQLite file in the home."""
    chosen = url or os.environ.get("MODELOG_DATABASE_URL")
    if chosen:
        return chosen
    return f"{SQLITE_PREFIX}{registry_home(home) / 'registry.db'}"


def plain_sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (no query, not in memory); None for anything else."""
    if not url.startswith(SQLITE_PREFIX) or "?" in url:
        return None
    path = url[len(SQLITE_PREFIX):]
    return None if not path or path == ":memory:" or path.startswith("file:") else Path(path).expanduser()
