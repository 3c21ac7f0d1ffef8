"""Checking the lines of an exported log one by one, each on its own (no neighbour, no database).

An import splits its checks in two. What a line can prove alone is checked here: it is JSON,
it is an event record or the end record, its fields have their types, and its hash is the
hash of its own contents. What needs the line before it (consecutive positions, each
``prev_hash`` the previous ``hash``) and what needs the event classes (upcasting) is checked
by the import itself, in file order. This module imports no SQLAlchemy and no pydantic, so a
worker process checking chunks of a large file starts quickly.
"""

from __future__ import annotations

import pickle
import re
import sys
from typing import IO, Any, NamedTuple

from modelog.registry._sql.json_decode import decode_json
from modelog.registry.hashing import canonical_json, chain_hash
from modelog.registry.recorder import EventRow

#: The fields of an exported event, in the ``events`` table's column order.
FIELDS: tuple[str, ...] = EventRow._fields
FIELD_SET = frozenset(FIELDS)
#: The optional key of an event line carrying its stored signature (``{"key_id": ..., "signature": ...}``).
#: Outside the hashed fields: the hash chain is the same with or without it.
SIGNATURE_KEY = "signature"
_SIGNED_FIELD_SET = FIELD_SET | {SIGNATURE_KEY}
_KEY_ID = re.compile(r"[0-9a-f]{1,64}")
_SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")
END_KEY = "modelog_export_end"
_INTEGERS = ("position", "stream_version", "schema_version")
#: What the ``events`` columns hold on every backend (64-bit positions, 32-bit versions).
_INTEGER_LIMITS = {"position": 2**63 - 1, "stream_version": 2**31 - 1, "schema_version": 2**31 - 1}
_TEXTS = ("stream_id", "event_type", "recorded_at", "prev_hash", "hash")

# What a line is, as check_line reports it.
NOT_JSON, END, NOT_AN_EVENT, EVENT = "not json", "end", "not an event", "event"


class CheckedLine(NamedTuple):
    """What one line holds, checked alone.

    ``kind`` is NOT_JSON (``detail``: why), END (``detail``: the end record's payload),
    NOT_AN_EVENT (``detail``: the message) or EVENT (``row``: the event's stored row, ``hash_ok``:
    its hash covers its contents, ``rule``: what the domain's rules refuse in it, once checked,
    ``signature``: the exported ``(key_id, signature hex)`` stored for it, None when unsigned).
    """

    kind: str
    number: int
    detail: Any = None
    row: EventRow | None = None
    hash_ok: bool = False
    rule: str | None = None
    signature: tuple[str, str] | None = None


def check_line(line: str, number: int) -> CheckedLine | None:
    """What line ``number`` holds, checked alone; None for a blank line."""
    if not line.strip():
        return None
    try:
        record = decode_json(line)
    except ValueError as error:
        return CheckedLine(NOT_JSON, number, getattr(error, "msg", str(error)))
    except RecursionError:
        return CheckedLine(NOT_JSON, number, "nested too deeply")
    if isinstance(record, dict) and len(record) == 1 and END_KEY in record:
        return CheckedLine(END, number, record[END_KEY])
    problem = _shape_problem(record, number)
    if problem:
        return CheckedLine(NOT_AN_EVENT, number, problem)
    try:
        row = EventRow(position=record["position"], stream_id=record["stream_id"],
                       stream_version=record["stream_version"], event_type=record["event_type"],
                       schema_version=record["schema_version"], data=canonical_json(record["data"]),
                       meta=canonical_json(record["meta"]), recorded_at=record["recorded_at"],
                       prev_hash=record["prev_hash"], hash=record["hash"])
        hash_ok = chain_hash(row.prev_hash, row.position, row.stream_id, row.stream_version, row.event_type,
                             row.schema_version, row.data, row.meta, row.recorded_at) == row.hash
    except UnicodeEncodeError as error:
        bad = f"U+{ord(error.object[error.start]):04X}"
        return CheckedLine(NOT_AN_EVENT, number, f"line {number} holds {bad} (a lone surrogate), which is not "
                                                 "valid Unicode")
    except (ValueError, RecursionError):  # NaN or infinity in data, or data nested too deeply to hash
        return CheckedLine(NOT_AN_EVENT, number, f"line {number}: data or meta holds a value JSON cannot carry "
                                                 "(NaN, infinity) or is nested too deeply")
    signed = record.get(SIGNATURE_KEY)
    signature = None if signed is None else (signed["key_id"], signed["signature"])
    return CheckedLine(EVENT, number, row=row, hash_ok=hash_ok, signature=signature)


def _shape_problem(record: Any, number: int) -> str | None:
    if not isinstance(record, dict) or (record.keys() != FIELD_SET and record.keys() != _SIGNED_FIELD_SET):
        return f"line {number} is not an exported event (expected fields {', '.join(FIELDS)}, optionally signature)"
    if SIGNATURE_KEY in record:
        problem = _signature_shape_problem(record[SIGNATURE_KEY], number)
        if problem:
            return problem
    if not isinstance(record["data"], dict) or not isinstance(record["meta"], dict):
        return f"line {number}: data and meta must be JSON objects"
    for name in _INTEGERS:
        value = record[name]
        if type(value) is not int or not 0 <= value <= _INTEGER_LIMITS[name]:
            return f"line {number}: {name} must be a whole number from 0 to {_INTEGER_LIMITS[name]}"
    for name in _TEXTS:
        if not isinstance(record[name], str):
            return f"line {number}: {name} must be text"
    return None


def _signature_shape_problem(signed: Any, number: int) -> str | None:
    """Only the shape: verifying needs the public key, which ``log verify --public-key`` takes after the import."""
    if (not isinstance(signed, dict) or signed.keys() != {"key_id", "signature"}
            or not isinstance(signed["key_id"], str) or not isinstance(signed["signature"], str)):
        return f"line {number}: signature must be an object with the texts key_id and signature"
    if not _KEY_ID.fullmatch(signed["key_id"]):
        return f"line {number}: signature key_id must be 1 to 64 lowercase hex digits"
    if not _SIGNATURE_HEX.fullmatch(signed["signature"]):
        return f"line {number}: signature must be 128 lowercase hex digits (an Ed25519 signature)"
    return None


def check_chunk(first_number: int, lines: list[str]) -> list[CheckedLine]:
    """``check_line`` for consecutive lines starting at line ``first_number`` (blank lines left out)."""
    checked = (check_line(line, number) for number, line in enumerate(lines, start=first_number))
    return [found for found in checked if found is not None]


class Rules:
    """The domain's rules over the events of consecutive chunks (``registry.rules``, loaded on first use)."""

    def __init__(self) -> None:
        from modelog.registry.rules import RuleCheck

        self.check = RuleCheck()

    def judged(self, checked: list[CheckedLine]) -> list[CheckedLine]:
        """``checked`` with each event's ``rule`` filled in (None: the domain accepts it)."""
        from modelog.registry.rules import RuleBreach

        judged = []
        for line in checked:
            if line.kind == EVENT and line.row is not None:
                try:
                    self.check.check_row(line.row)
                except RuleBreach as breach:
                    line = line._replace(rule=breach.problem)
            judged.append(line)
        return judged


# --- the checking process: ``python -m registry.log_lines`` ------------------------------------
# Frames on stdin and stdout: a 4-byte big-endian length, then a pickle. In: (first line number,
# lines); out: that chunk's check_chunk result. It stops at the end of its input.


def write_frame(stream: IO[bytes], value: object) -> None:
    """Write one length-prefixed pickle frame and flush it."""
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(body).to_bytes(4, "big") + body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """Read one frame; raise EOFError at the end of the stream (or inside a cut-off frame)."""
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("no frame")
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("cut-off frame")
    return pickle.loads(body)  # noqa: S301 - frames come only from our own parent or child process


#: One checked line as it crosses the pipe: CheckedLine's fields, the row a plain tuple.
FrameLine = tuple[str, int, Any, tuple[Any, ...] | None, bool, str | None, tuple[str, str] | None]
_new_tuple = tuple.__new__


def to_frame(checked: list[CheckedLine]) -> list[FrameLine]:
    """Checked lines as plain tuples for the pipe.

    Pickling a NamedTuple goes through its Python-level ``__getnewargs__`` and ``__new__`` for
    every line, which made the checking process ~4 us and the importing one ~2 us per line slower.
    """
    return [(c.kind, c.number, c.detail, None if c.row is None else tuple(c.row), c.hash_ok, c.rule, c.signature)
            for c in checked]


def from_frame(frame: list[FrameLine]) -> list[CheckedLine]:
    """The checked lines of a frame (``tuple.__new__`` builds each NamedTuple without a Python-level call)."""
    return [_new_tuple(CheckedLine, (kind, number, detail, None if row is None else _new_tuple(EventRow, row), ok,
                                     rule, signature))
            for kind, number, detail, row, ok, rule, signature in frame]


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """Check every chunk read from ``source`` and write each result to ``sink`` (``to_frame``), in order.

    A chunk sent with ``replay`` set was checked by the parent already: it only brings the domain
    rules' state up to date (no answer); every other chunk's events are judged by the rules too.
    """
    rules = Rules()
    while True:
        try:
            first, lines, replay = read_frame(source)
        except EOFError:
            return
        checked = rules.judged(check_chunk(first, lines))
        if not replay:
            write_frame(sink, to_frame(checked))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
