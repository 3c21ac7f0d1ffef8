"""Kill -9 during writes: whatever the moment, the log verifies, no command is half-written, nothing acknowledged
is lost, the views equal a fresh replay and the next command works.

The quick variant runs in the default suite; ``MODELOG_LONG_RELIABILITY=1`` runs 100+ rounds per backend.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

from modelog.registry.commands import CreateVersion, RegisterModel
from modelog.registry.store import EventStore

from tests.reliability.support import (
    LONG,
    check_in_flight,
    check_journal,
    check_log_and_views,
    python_child,
    read_journal,
)

ROUNDS = {"sqlite": 120 if LONG else 10, "postgres": 100 if LONG else 4}


def _kill_writer_at_random(url: str, journal: Path, seed: int, rng: random.Random) -> None:
    child = python_child("-m", "tests.reliability.writer", url, str(journal), str(seed), stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", "writer did not start"
        time.sleep(rng.uniform(0.0, 0.5))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def _all_events(url: str) -> list:
    from modelog.registry.database import create_engine_for

    engine = create_engine_for(url)
    try:
        return list(EventStore(engine).read_all())
    finally:
        engine.dispose()


def _journal_done(journal: Path, cid: str, command: str, events: int) -> None:
    with journal.open("a") as out:
        out.write(json.dumps({"cid": cid, "status": "done", "command": command, "events": events}) + "\n")


def _next_command_works(url: str, journal: Path, round_no: int) -> None:
    from modelog.application.bootstrap import open_registry

    name = f"after-{round_no}"
    with open_registry(url, actor="checker") as registry:
        for command in (RegisterModel(name=name), CreateVersion(model=name)):
            cid = str(uuid.uuid4())
            result = registry.commands.execute(command, correlation_id=cid)
            _journal_done(journal, cid, type(command).__name__, len(result.events))
        assert registry.reads.get_version(name, result.number).number == 1


def _check_round(url: str, journal: Path) -> int:
    """Check the database after a kill; return how many cut-off commands had committed."""
    checked, problems = check_log_and_views(url)
    assert not problems, problems
    events = _all_events(url)
    assert checked == len(events)
    entries = read_journal(journal)
    problems, in_flight = check_journal(events, entries)
    committed = 0
    for cid in in_flight:
        problems += check_in_flight(events, entries, cid)
        count = sum(1 for e in events if e.meta.get("correlation_id") == cid)
        committed += count > 0
        _journal_done(journal, cid, entries[cid]["command"], count)  # later rounds hold it to this
    assert not problems, problems
    return committed


def test_kill9_mixed_writer(db_url: str, backend: str, tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("MODELOG_RELIABILITY_SEED", "0")) or None)
    journal = tmp_path / "journal.jsonl"
    totals = {"rounds": 0, "cut_off_commands_committed": 0}
    for round_no in range(ROUNDS[backend]):
        _kill_writer_at_random(db_url, journal, rng.getrandbits(32), rng)
        totals["cut_off_commands_committed"] += _check_round(db_url, journal)
        _next_command_works(db_url, journal, round_no)
        totals["rounds"] += 1
    entries = read_journal(journal)
    totals["commands"] = len(entries)
    totals["events"] = len(_all_events(db_url))
    totals["acknowledged_lost"] = 0  # every round asserted it
    print(f"\nkill -9 [{backend}]: {totals}")
