"""The read-model queries shell completion asks, in plain SQL over a DB-API connection (no SQLAlchemy).

A shell waits for completion on every TAB, so a SQLite registry is read with the standard
library's ``sqlite3`` alone (see :mod:`application.completion`); an open registry runs the same
statements through its engine's driver. Table and column names are those of
:mod:`projections.tables` (a test checks them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from modelog.registry.validation import name_key
from modelog.registry.values import Stage

#: Runs one statement with its parameters on a DB-API connection and returns the rows.
Execute = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]
#: The kinds of thing completion offers.
KINDS = ("model", "version", "run", "artifact")
#: Stage selectors offered (``none`` names no useful version).
_STAGES = tuple(stage.value for stage in Stage if stage is not Stage.NONE)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with ``text`` (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _models(execute: Execute, p: str, prefix: str, limit: int) -> list[str]:
    rows = execute(f"SELECT name FROM view_models WHERE name_key LIKE {p} ESCAPE '\\' ORDER BY name_key LIMIT {p}",
                   (like_prefix(name_key(prefix)), limit))
    return [str(row[0]) for row in rows]


def _ids(execute: Execute, p: str, table: str, column: str, prefix: str, limit: int) -> list[str]:
    """Ids in ``table.column`` starting with ``prefix``, newest first (both tables have ``created`` times)."""
    newest = "started_at" if table == "view_runs" else "created_at"
    rows = execute(f"SELECT {column} FROM {table} WHERE {column} LIKE {p} ESCAPE '\\' ORDER BY {newest} DESC "
                   f"LIMIT {p}", (like_prefix(prefix), limit))
    return [str(row[0]) for row in rows]


def _versions(execute: Execute, p: str, model: str, prefix: str, limit: int) -> list[str]:
    found = execute(f"SELECT model_id FROM view_models WHERE name_key = {p}", (name_key(model),))
    if not found:
        return []
    model_id = found[0][0]
    rows = execute(f"SELECT number, name, stage FROM view_versions WHERE model_id = {p} ORDER BY number",
                   (model_id,))
    aliases = execute(f"SELECT alias FROM view_aliases WHERE model_id = {p} ORDER BY alias", (model_id,))
    numbers = [str(number) for number, _, _ in rows]
    names = [str(name) for number, name, _ in rows if str(name) != str(number)]
    held = {str(stage) for _, _, stage in rows}
    stages = [stage for stage in _STAGES if stage in held]
    offered = [*numbers, *names, *stages, "latest", *("@" + str(alias) for (alias,) in aliases)]
    wanted = prefix.casefold()
    return [c for c in offered if c.casefold().startswith(wanted)][:limit]


def candidates(execute: Execute, placeholder: str, kind: str, prefix: str, model: str | None,
               limit: int) -> list[str]:
    """Completion candidates of ``kind`` starting with ``prefix`` (``placeholder``: the driver's, ``?`` or ``%s``)."""
    if kind == "model":
        return _models(execute, placeholder, prefix, limit)
    if kind == "run":
        return _ids(execute, placeholder, "view_runs", "run_id", prefix, limit)
    if kind == "artifact":
        return _ids(execute, placeholder, "view_artifacts", "artifact_id", prefix, limit)
    if kind == "version":
        return _versions(execute, placeholder, model, prefix, limit) if model else []
    raise ValueError(kind)
