"""Export the whole log as JSON Lines, and import such a file into an empty registry.

The file ends with an end record naming the event count and the last hash, so a file
cut short at a line boundary (still a valid chain prefix) is refused too. An import
verifies the hash chain line by line while it streams, and is all or nothing: one
transaction, so a truncated or edited file leaves the registry empty.

A signed event's line also carries its signature (``"signature": {"key_id", "signature"}``), outside
the hashed fields; an import stores it in ``event_signatures`` with the event. Without the public key
an import checks only its shape; ``log verify --public-key`` afterwards verifies it (a file without
signatures, older exports included, imports as an unsigned log).

A large import checks its lines in a second process (``python -m registry.log_lines``: JSON,
fields, each line's own hash) while this one links them into one chain, writes them and
projects them, so the two halves of the work run on two cores. The result is the same either way:
lines are linked, written and refused in file order.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from modelog.registry._sql.bulk import cyclic_gc_paused
from modelog.registry._sql.json_decode import decode_json
from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.errors import IntegrityError, InvalidInputError, StorageError
from modelog.registry.hashing import GENESIS_HASH, canonical_json
from modelog.registry.log_lines import (
    END,
    END_KEY,
    FIELDS,
    NOT_AN_EVENT,
    NOT_JSON,
    SIGNATURE_KEY,
    CheckedLine,
    Rules,
    check_chunk,
    from_frame,
    read_frame,
    write_frame,
)
from modelog.registry.recorder import EventRow, Recorder, SignedRows, StoredEvent
from modelog.registry.signing import SignedHash

__all__ = ["END_KEY", "FIELDS", "event_to_json", "export_log", "import_log"]

Progress = Callable[[int], None]
#: Lines per chunk handed to the checking process.
CHUNK_LINES = 2_000
#: Chunks checked in this process before the checking process starts (a small file never pays for it).
CHUNKS_BEFORE_WORKER = 10


def event_to_json(event: StoredEvent, signed: SignedHash | None = None) -> str:
    """One JSON Lines record of a stored event, with its stored signature when ``signed`` carries one.

    The signature is a key of the line beside the hashed fields, never one of them: the hash chain
    is the same whether a line carries it or not.
    """
    record: dict[str, Any] = {name: getattr(event, name) for name in FIELDS}
    if signed is not None and signed.key_id is not None and signed.signature is not None:
        record[SIGNATURE_KEY] = {"key_id": signed.key_id, "signature": signed.signature}
    return canonical_json(record)


def export_log(store: Recorder, out: IO[str], progress: Progress | None = None) -> int:
    """Write every event, in position order, one JSON object per line, then the end record; return the count.

    Each signed event's line carries its signature (``SIGNATURE_KEY``), so an imported copy still
    passes ``log verify --public-key``.
    """
    count, last_hash = 0, GENESIS_HASH
    head = store.head()
    signed = store.read_signed()  # the same positions in the same order: read side by side, memory stays flat
    for event in store.read_all(to_position=head):
        signature = next(signed, None)
        if signature is None or signature.position != event.position:
            raise StorageError(f"the log's signatures and events disagree at position {event.position}; "
                               "export again")
        out.write(event_to_json(event, signature) + "\n")
        count, last_hash = count + 1, event.hash
        if progress and count % 10_000 == 0:
            progress(count)
    out.write(canonical_json({END_KEY: {"events": count, "last_hash": last_hash}}) + "\n")
    return count


# --- import: linking the checked lines, in file order -----------------------------------


class _Chain:
    """The chain built so far: the next expected position, the last hash, the end record once seen."""

    def __init__(self) -> None:
        self.expected, self.prev_hash = 1, GENESIS_HASH
        self.end: Any = None  # the end record's payload once seen: any JSON (check_end judges it)

    def link(self, checked: CheckedLine) -> EventRow | None:
        """The stored row of a checked line once it is linked onto the chain (None for the end record)."""
        kind, number = checked.kind, checked.number
        if kind == NOT_JSON:
            raise InvalidInputError(f"line {number} is not valid JSON ({checked.detail}); is the file truncated?")
        if self.end is not None:
            raise IntegrityError(f"line {number} follows the end record; nothing was imported")
        if kind == END:
            self.end = checked.detail
            return None
        row = checked.row
        if kind == NOT_AN_EVENT or row is None:
            raise InvalidInputError(str(checked.detail))
        problem = self._link_problem(row, checked.hash_ok) or checked.rule
        if problem:
            raise IntegrityError(f"line {number} (position {row.position}): {problem}; nothing was imported")
        if row.schema_version != CURRENT_SCHEMA.get(row.event_type):  # unknown or newer events fail loudly
            upcast(row.event_type, row.schema_version, decode_json(row.data))
        self.prev_hash, self.expected = row.hash, self.expected + 1
        return row

    def _link_problem(self, row: EventRow, hash_ok: bool) -> str | None:
        position = row.position
        if position > self.expected:
            return f"position {self.expected} is missing (next stored position is {position})"
        if position < self.expected:
            return f"unexpected event at position {position} (expected position {self.expected} next)"
        if row.prev_hash != self.prev_hash:
            return "prev_hash does not match the previous event's hash"
        return None if hash_ok else "stored hash does not match the event's contents"

    def check_end(self) -> None:
        """Refuse a file without its end record, or whose end record does not match what was read."""
        end, count, last_hash = self.end, self.expected - 1, self.prev_hash
        if end is None:
            raise IntegrityError(
                "the file has no end record: it is truncated or not a modelog export; nothing was imported"
            )
        if not isinstance(end, dict) or end.get("events") != count or end.get("last_hash") != last_hash:
            raise IntegrityError(
                f"the end record announces {end.get('events') if isinstance(end, dict) else '?'} events but the "
                f"file holds {count} (or its last hash differs): it is truncated or edited; nothing was imported"
            )


# --- import: checking the lines, here or in a second process -----------------------------


def _chunks(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    source, first = iter(lines), 1
    while chunk := _read_chunk(source, first):
        yield first, chunk
        first += len(chunk)


def _read_chunk(source: Iterator[str], first: int) -> list[str]:
    try:
        return list(islice(source, CHUNK_LINES))
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"the file is not UTF-8 text (byte 0x{error.object[error.start]:02x} somewhere "
                                f"after line {first - 1}): it is not a modelog export; nothing was imported") from None


def _checked(lines: Iterable[str], parallel: bool) -> Iterator[CheckedLine]:
    """Every non-blank line, checked alone and judged by the domain's rules, in file order."""
    chunks, rules, seen = _chunks(lines), Rules(), list[tuple[int, list[str], bool]]()
    for first, chunk in islice(chunks, CHUNKS_BEFORE_WORKER if parallel else None):
        yield from rules.judged(check_chunk(first, chunk))
        seen.append((first, chunk, True))
    rest = next(chunks, None) if parallel else None
    if rest is not None:  # a file that fits the first chunks never starts the second process
        # The checking process replays the chunks judged here first: the rules need every earlier event.
        yield from _checked_elsewhere(chain(seen, [(*rest, False)], ((f, c, False) for f, c in chunks)))


def _checked_elsewhere(chunks: Iterator[tuple[int, list[str], bool]]) -> Iterator[CheckedLine]:
    """The lines of the remaining chunks, checked by a second process a few chunks ahead of their use.

    The process is ``python -m registry.log_lines`` (not ``multiprocessing``, which would run the
    caller's main script again in the child). A thread feeds it chunks, at most ``AHEAD`` ahead,
    so memory stays flat however long the file; results come back in order.
    """
    with tempfile.TemporaryFile() as errors:  # the child's stderr, quoted if it fails
        worker = _start_checker(errors)
        feeder = _Feeder(worker, chunks)
        try:
            while True:
                try:
                    result = from_frame(read_frame(_pipe(worker.stdout)))
                except EOFError:
                    break
                feeder.room.release()
                yield from result
            feeder.stop()  # the checker has ended: if it ended early, the feeder may be waiting for room
            feeder.join()
            if feeder.error is not None and not isinstance(feeder.error, OSError):
                raise feeder.error  # reading the file failed (not valid UTF-8, say): as without a second process
            if worker.wait() != 0 or feeder.error is not None:
                raise StorageError(f"the process checking the import's lines stopped unexpectedly"
                                   f"{_last_words(errors, worker.returncode)}; nothing was imported")
        finally:
            feeder.stop()
            worker.kill()
            worker.wait()
            feeder.join(timeout=10)  # it ends at once: no room to wait for, no reader for its writes


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    """A pipe of the checking process (always there: it is started with PIPE for stdin and stdout)."""
    if stream is None:
        raise StorageError("the process checking the import's lines has no pipe to talk through")
    return stream


def _last_words(errors: IO[bytes], status: int | None) -> str:
    errors.seek(0)
    lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    return f" ({lines[-1]})" if lines else f" (exit status {status})"


AHEAD = 3


class _Feeder(threading.Thread):
    """Writes chunks to the checking process, never more than ``AHEAD`` beyond the results read back."""

    def __init__(self, worker: subprocess.Popen[bytes], chunks: Iterator[tuple[int, list[str], bool]]) -> None:
        super().__init__(name="modelog-import-feeder", daemon=True)
        self.worker, self.chunks, self.room = worker, chunks, threading.Semaphore(AHEAD)
        self.stopped = False
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        """Feed every chunk, then close the worker's input (its end of work)."""
        try:
            for chunk in self.chunks:
                if not chunk[2]:  # a replayed chunk has no answer to wait for
                    self.room.acquire()
                if self.stopped:
                    return
                write_frame(_pipe(self.worker.stdin), chunk)
        except BaseException as error:  # handed to the reading side, which raises it
            self.error = error
        finally:
            with contextlib.suppress(OSError):
                _pipe(self.worker.stdin).close()

    def stop(self) -> None:
        """Make the thread end, if it has not (it may be waiting for room)."""
        if not self.stopped:
            self.stopped = True
            self.room.release()


def _start_checker(errors: IO[bytes]) -> subprocess.Popen[bytes]:
    package_root = str(Path(__file__).resolve().parents[1])  # the child imports this very registry package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "modelog.registry.log_lines"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=errors, env=env)


def _default_parallel() -> bool:
    return (os.cpu_count() or 1) > 1


# --- import ------------------------------------------------------------------------------


def import_log(store: Recorder, source: IO[str], progress: Progress | None = None,
               batch_size: int = 2_000, parallel: bool | None = None) -> int:
    """Import an exported log into an empty registry; verifies the chain; all or nothing.

    ``parallel``: check the lines of a large file in a second process (default: when there is a
    second core); False checks everything in this process.
    """
    parallel = _default_parallel() if parallel is None else parallel
    # closing(): a recorder that fails mid-import leaves the batches unread; the checking process must end too.
    with cyclic_gc_paused(), contextlib.closing(_linked_batches(source, parallel, batch_size)) as batches:
        return store.import_rows(batches, progress)


def _linked_batches(source: IO[str], parallel: bool, batch_size: int) -> Generator[SignedRows, None, None]:
    """The file's events as sealed rows, linked onto one chain, ``batch_size`` at a time; raises on any flaw.

    Nothing is read before the recorder asks for the first batch (after its emptiness check);
    a flaw found later rolls back what it wrote.
    """
    links, batch = _Chain(), SignedRows()
    for checked in _checked(source, parallel):
        row = links.link(checked)
        if row is None:
            continue
        batch.append(row)
        if checked.signature is not None:
            batch.signatures.append((row.position, *checked.signature))
        if len(batch) >= batch_size:
            yield batch
            batch = SignedRows()
    links.check_end()
    if batch:
        yield batch
