"""Shared checks of the reliability tests: log integrity, journal completeness and view consistency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelog.application.bootstrap import ensure_schema
from modelog.projections import tables as t
from modelog.projections.projector import ViewProjector
from modelog.projections.rebuild import verify as verify_views
from modelog.registry.database import create_engine_for, transaction
from modelog.registry.store import EventStore, StoredEvent
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("MODELOG_LONG_RELIABILITY", "") in ("1", "true", "yes")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child process running this checkout's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def python_child(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``python args...`` from the repository root with this interpreter."""
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=subprocess_env(), text=True, **popen)


@dataclass
class Snapshot:
    """What a database looks like from outside: the log length, the checkpoint, every view table's rows."""

    head: int
    checkpoint: int
    views: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def snapshot(url: str) -> Snapshot:
    """Read the log head, checkpoint and all view rows without opening (or repairing) the registry."""
    engine = create_engine_for(url)
    try:
        with transaction(engine) as conn:
            head = EventStore(engine).head(conn)
            checkpoint = conn.execute(select(func.coalesce(func.max(t.checkpoints.c.position), 0))).scalar_one()
            views = {table.name: sorted(map(tuple, conn.execute(table.select())), key=repr) for table in t.VIEW_TABLES}
        return Snapshot(head, int(checkpoint), views)
    finally:
        engine.dispose()


def check_log_and_views(url: str) -> tuple[int, list[str]]:
    """Verify the hash chain and compare the live views with a fresh replay; (events, problems).

    A writer killed before its first commit leaves an empty database file; opening it (as the next
    command would) creates the schema, so the check starts the same way.
    """
    engine = create_engine_for(url)
    try:
        ensure_schema(engine)
        store = EventStore(engine, [ViewProjector()])
        report = store.verify()
        problems = [] if report.ok else [f"log: position {report.first_bad_position}: {report.problem}"]
        problems += verify_views(engine, store).differences
        return report.checked, problems
    finally:
        engine.dispose()


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Journal entries by correlation id: the intent, merged with its outcome if one was written."""
    entries: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        entries.setdefault(record["cid"], {}).update(record)
    return entries


def events_by_correlation(events: list[StoredEvent]) -> dict[str, list[StoredEvent]]:
    """The log's events grouped by the correlation id their command wrote into meta."""
    groups: dict[str, list[StoredEvent]] = defaultdict(list)
    for event in events:
        groups[str(event.meta.get("correlation_id"))].append(event)
    return groups


def check_journal(events: list[StoredEvent], journal: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Compare the log with the journal; (problems, correlation ids of commands cut off by the kill)."""
    groups = events_by_correlation(events)
    problems = [f"events of unknown command {cid}" for cid in groups if cid not in journal]
    in_flight: list[str] = []
    for cid, entry in journal.items():
        found = groups.get(cid, [])
        positions = [e.position for e in found]
        if positions and positions != list(range(positions[0], positions[0] + len(positions))):
            problems.append(f"{cid}: events not contiguous: {positions}")
        status = entry["status"]
        if status == "done" and len(found) != entry["events"]:
            problems.append(f"{cid} ({entry['command']}): acknowledged {entry['events']} events, log has {len(found)}")
        elif status == "refused" and found:
            problems.append(f"{cid} ({entry['command']}): refused but {len(found)} events in the log")
        elif status == "intent":
            in_flight.append(cid)
    return problems, in_flight


def _shape(event: StoredEvent) -> tuple[Any, ...]:
    """An event without what differs between two executions (new ids, times, chain)."""
    data = {k: v for k, v in event.data.items() if k not in ("model_id", "artifact_id", "run_id")}
    return event.event_type, event.stream_id.split("-", 1)[0], event.stream_version, json.dumps(data, sort_keys=True)


def expected_events(prior: list[StoredEvent], command: Any) -> list[tuple[Any, ...]]:
    """Re-execute ``command`` on a scratch copy of the log as it stood before it; the shapes it appends."""
    from modelog.application.bootstrap import open_registry
    from modelog.registry.errors import RegistryError

    with tempfile.TemporaryDirectory(prefix="modelog-reexec-") as scratch:
        registry = open_registry(f"sqlite:///{scratch}/replay.db", actor="writer", synchronous="OFF")
        try:
            if prior:
                registry.store.import_events(prior)
            try:
                return [_shape(e) for e in registry.commands.execute(command).events]
            except RegistryError:
                return []
        finally:
            registry.close()


def check_in_flight(events: list[StoredEvent], journal: dict[str, dict[str, Any]], cid: str) -> list[str]:
    """A command cut off by the kill is in the log completely (as re-execution appends it) or not at all."""
    from tests.reliability.writer import build_command

    found = [e for e in events if e.meta.get("correlation_id") == cid]
    if not found:
        return []
    entry = journal[cid]
    prior = [e for e in events if e.position < found[0].position]
    expected = expected_events(prior, build_command(entry["command"], entry["kwargs"]))
    actual = [_shape(e) for e in found]
    return [] if actual == expected else [f"{cid} ({entry['command']}): log has {actual}, expected {expected}"]


def mount(*args: str) -> None:
    """Run ``mount`` with ``args`` (the tests run as root), failing loudly."""
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@contextmanager
def tmpfs(where: Path, size: str, purpose: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the block; skips when mounting is not permitted."""
    import pytest

    where.mkdir(exist_ok=True)
    try:
        mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here ({error}); run as root to test {purpose}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
