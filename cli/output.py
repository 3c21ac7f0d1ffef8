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


#: Character categories spelled out on a terminal: controls (ESC, NUL, newline...), format characters (bidi
#: overrides, zero-width characters), surrogates, private use, unassigned, and the line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape_controls(text: str) -> str:
    """``text`` with control and invisible characters (ESC, NUL, newlines, bidi overrides, zero-width
    characters) spelled out as ``\\x1b``-style escapes.

    User-provided text reaches the terminal in tables, reports and error lines; raw, an ESC could
    drive the terminal (colours, cursor moves, a window title, a fake prompt), a newline or a
    carriage return could forge further lines and a right-to-left override could reverse what is read.
    """
    if text.isprintable():
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if unicodedata.category(ch) in _HIDDEN or ch in BIDI_CONTROLS:
        return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
    return ch


def echo(line: str, *, err: bool = False) -> None:
    """Print one line for a person, every control and invisible character escaped (piped or not).

    Every human-readable line of the CLI goes through here or through :func:`echo_table` (whose
    cells are escaped the same way); ``tests/unit/test_cli_terminal_safety.py`` checks that no
    other module prints.
    """
    click.echo(escape_controls(line), err=err)


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One table cell: empty for None, comma-joined lists, one line, shortened past ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = escape_controls(" ".join(str(value).split()))
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
    """Print ``data`` as indented JSON (UTF-8, keys in the views' stable order).

    JSON escapes control characters itself; invisible and bidi characters are written as ``\\uXXXX``
    escapes too (the same string to a JSON reader, inert on a terminal).
    """
    text = json.dumps(data, indent=2, ensure_ascii=False)
    click.echo(text if text.isascii() else "".join(_json_escaped(ch) for ch in text))


def _json_escaped(ch: str) -> str:
    if ch.isascii() or unicodedata.category(ch) not in _HIDDEN:
        return ch
    code = ord(ch)
    if code > 0xFFFF:  # outside the BMP: JSON spells it as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
