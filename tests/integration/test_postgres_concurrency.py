"""Concurrency proof on a real PostgreSQL server with real OS processes (tests/integration/pg_workers.py).

8 processes each create 25 versions of one model and force some of them into production
while a ninth process follows the log by position; N processes race to register one name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from modelog.application.bootstrap import open_registry
from modelog.projections.rebuild import verify as verify_views
from modelog.registry import commands as cmd
from modelog.registry.aggregates import ModelState
from modelog.registry.events import decode_event
from modelog.registry.values import Stage
from modelog.registry.vocabulary import model_stream, name_stream

from tests.integration.pg_support import postgres_url_or_skip

REPO = Path(__file__).resolve().parents[2]
WRITERS, VERSIONS_EACH = 8, 25


@pytest.fixture
def pg_url() -> str:
    """An empty PostgreSQL test database."""
    return postgres_url_or_skip()


class Worker:
    """One worker process of tests/integration/pg_workers.py and the files it reports through."""

    def __init__(self, tmp: Path, label: str, role: str, *args: object) -> None:
        self.label, self.out, self.ready = label, tmp / f"{label}.json", tmp / f"{label}.ready"
        self.err = (tmp / f"{label}.err").open("w")
        argv = [sys.executable, "-m", "tests.integration.pg_workers", role, *map(str, args), str(self.ready),
                str(self.out)]
        self.process = subprocess.Popen(argv, cwd=REPO, env=os.environ.copy(), stdout=self.err, stderr=self.err)

    def result(self, timeout: float = 300) -> Any:
        """Wait for the process; its JSON result (fails with its stderr if it crashed)."""
        code = self.process.wait(timeout=timeout)
        self.err.close()
        assert code == 0, f"{self.label} exited {code}: {Path(self.err.name).read_text()[-3000:]}"
        return json.loads(self.out.read_text())


def start_together(workers: list[Worker], go: Path, timeout: float = 120) -> None:
    """Wait until every worker has opened its registry, then release them all at once."""
    deadline = time.monotonic() + timeout
    while not all(w.ready.exists() for w in workers):
        crashed = [w.label for w in workers if w.process.poll() not in (None, 0)]
        assert not crashed and time.monotonic() < deadline, f"workers not ready: {crashed}"
        time.sleep(0.02)
    go.touch()


def production_holders_per_position(registry: Any, model_id: str) -> dict[int, list[int]]:
    """Replay the model's stream: which live versions hold production after each of its events."""
    state, holders = ModelState(), {}
    for stored in registry.store.read_stream(model_stream(model_id)):
        state.apply(decode_event(stored.event_type, stored.schema_version, stored.data))
        holders[stored.position] = [v.number for v in state.live_versions() if v.stage == Stage.PRODUCTION]
    return holders


def test_eight_processes_create_and_promote_versions_while_a_reader_follows(pg_url: str, tmp_path: Path) -> None:
    with open_registry(pg_url) as registry:
        model_id = registry.commands.execute(cmd.RegisterModel(name="contended")).model_id
    go, stop = tmp_path / "go", tmp_path / "stop"
    follower = Worker(tmp_path, "follower", "follow", pg_url, stop)
    writers = [Worker(tmp_path, f"writer-{w}", "versions", pg_url, "contended", w, VERSIONS_EACH, go)
               for w in range(WRITERS)]
    start_together([follower, *writers], go)
    results = [w.result() for w in writers]
    stop.touch()
    followed = follower.result()

    created = sorted(n for r in results for n in r["created"])
    assert created == list(range(1, WRITERS * VERSIONS_EACH + 1))  # 200 distinct numbers, no gaps
    promoted = [n for r in results for n in r["promoted"]]
    assert len(promoted) == WRITERS * VERSIONS_EACH // 4
    with open_registry(pg_url) as registry:
        log = [[e.position, e.hash] for e in registry.store.read_all()]
        assert followed["problem"] is None
        assert followed["seen"] == log  # every event exactly once, in order
        holders = production_holders_per_position(registry, model_id)
        assert all(len(numbers) <= 1 for numbers in holders.values())
        last_promotion = max(p for p, numbers in holders.items() if numbers)
        assert [v.number for v in registry.reads.list_versions("contended", stage="production")] == (
            holders[last_promotion])
        assert [v.number for v in registry.reads.list_versions("contended")] == created
        assert registry.store.verify().ok
        assert verify_views(registry.engine, registry.store).ok


def test_processes_racing_to_register_one_name_create_exactly_one_model(pg_url: str, tmp_path: Path) -> None:
    with open_registry(pg_url):
        pass  # schema created up front, so the race is about the name only
    go = tmp_path / "go"
    racers = [Worker(tmp_path, f"racer-{w}", "register", pg_url, "Fraud-Detector", w, go) for w in range(8)]
    start_together(racers, go)
    outcomes = [r.result()["outcome"] for r in racers]

    assert sorted(outcomes) == ["conflict"] * 7 + ["registered"]
    with open_registry(pg_url) as registry:
        assert [m.name for m in registry.reads.list_models().items] == ["Fraud-Detector"]
        claims = registry.store.read_stream(name_stream("Fraud-Detector"))
        assert [e.event_type for e in claims] == ["ModelNameClaimed"]
        registered = [e for e in registry.store.read_all() if e.event_type == "ModelRegistered"]
        assert len(registered) == 1
        assert registry.store.verify().ok
