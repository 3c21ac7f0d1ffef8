"""Output formatting: aligned tables for people, JSON for machines."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import click

MAX_CELL = 40
#: Invisible characters that reorder text on a terminal (bidirectional overrides and isolates).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape_controls(text: str) -> str:
    """``text`` with control characters (ESC, NUL, newlines, bidi overrides) spelled out as ``\\x1b``-style escapes.

    Rejected user input is echoed in error lines; raw, an ESC could drive the terminal
    (colours, cursor moves, a fake prompt) and a newline could forge further lines.
    """
    if text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS:
        return ch.encode("unicode_escape").decode("ascii")
    return ch


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One table cell: empty for None, comma-joined lists, one line, shortened past ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def when(timestamp: str | None) -> str:
    """A stored UTC timestamp to the second (``2024-05-01T12:00:00Z``)."""
    return f"{timestamp[:19]}Z" if timestamp else ""


def short_id(identifier: str | None) -> str:
    """The first 8 characters of a UUID (enough to tell models apart by eye)."""
    return (identifier or "")[:8]


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], wide: Sequence[str] = ()) -> str:
    """Columns padded to their widest cell, separated by two spaces; no trailing spaces.

    Cells are shortened to 40 characters except in the ``wide`` columns.
    """
    limits = [10**9 if h in wide else MAX_CELL for h in headers]
    texts = [[cell(v, limit) for v, limit in zip(row, limits, strict=True)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]
    lines = [list(headers), *texts]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str, wide: Sequence[str] = ()) -> None:
    """Print a table, or ``empty`` when there are no rows."""
    click.echo(render_table(headers, rows, wide) if rows else empty)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (UTF-8, keys in the views' stable order)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
