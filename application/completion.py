"""Shell completion's way into the registry: fast for a local SQLite registry, the service API otherwise.

A TAB must answer within ~100 ms. Loading SQLAlchemy alone takes twice that, so a plain SQLite
registry is opened read-only with the standard library's ``sqlite3`` and asked the statements of
:mod:`projections.completion_sql` directly. A server (``$MODELOG_URL``) or a PostgreSQL
registry goes through :meth:`RegistryAPI.complete`. A registry that does not exist yet completes
nothing (and is not created by a TAB).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from modelog.projections.completion_sql import KINDS, candidates
from modelog.registry.errors import InvalidInputError
from modelog.registry.locations import plain_sqlite_file, resolve_url

#: How long a TAB waits for a SQLite registry locked by a writer.
BUSY_TIMEOUT = 0.2


def complete(kind: str, prefix: str = "", *, model: str | None = None, limit: int = 50) -> list[str]:
    """Completion candidates (kind: model, version, run, artifact) of the configured registry, from ``prefix``."""
    if kind not in KINDS:
        raise InvalidInputError(f"cannot complete {kind!r}; choose one of {', '.join(KINDS)}")
    path = None if os.environ.get("MODELOG_URL", "").strip() else plain_sqlite_file(resolve_url())
    if path is None:
        from modelog.application.local import connect  # noqa: PLC0415 - only servers and PostgreSQL need it

        with connect() as api:
            return api.complete(kind, prefix, model=model, limit=limit)
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    try:
        def execute(sql: str, params: Sequence[Any]) -> list[Any]:
            return conn.execute(sql, tuple(params)).fetchall()

        return candidates(execute, "?", kind, prefix, model, limit)
    finally:
        conn.close()
