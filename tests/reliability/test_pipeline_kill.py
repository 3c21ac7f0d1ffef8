"""A pipeline run killed mid-step: never shown as succeeded, no half-written artifact ever loaded, the next run
works. Quick in the default suite; ``MODELOG_LONG_RELIABILITY=1`` runs 100 rounds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from modelog.registry.artifact_store import file_hash

from modelog import Client
from tests.reliability.support import LONG, check_log_and_views, python_child

ROUNDS = 100 if LONG else 5
SIZE = 2_000_000


def _run_and_kill(url: str, home: Path, rng: random.Random) -> bool:
    """Start a pipeline and kill -9 it at a random moment; True if it finished first."""
    child = python_child("-m", "tests.reliability.pipeline_child", url, str(home), str(SIZE), stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, 0.9))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        out = child.communicate(timeout=30)[0]
    return "finished" in out


def _store_files_are_whole(store_root: Path) -> int:
    """Every file at a content address holds exactly that content (temporary files are never addressed)."""
    count = 0
    for path in (store_root / "sha256").glob("*/*"):
        if not path.name.startswith(".tmp-"):
            assert file_hash(path) == path.name, f"half-written artifact at {path}"
            count += 1
    return count


def _check(client: Client, finished: bool) -> dict[str, int]:
    runs = client.api.list_runs(limit=1000)
    statuses = [r.status for r in runs]
    killed = [r for r in runs if r.status != "completed"]
    assert all(s in ("running", "failed", "completed") for s in statuses), statuses
    if not finished:
        assert runs and runs[0].status != "completed", "a killed run is shown as succeeded"
    report = client.verify_artifacts()
    assert report.ok, [p.describe() for p in report.problems]
    for artifact in client.api.list_artifacts():
        client.load_artifact(artifact.artifact_id)  # verified before deserialising
    return {"unfinished_runs": len(killed), "artifacts": report.checked}


def test_pipeline_killed_mid_step(tmp_path: Path) -> None:
    rng = random.Random()
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'registry.db'}"
    finished_count = 0
    for _ in range(ROUNDS):
        finished = _run_and_kill(url, home, rng)
        finished_count += finished
        assert check_log_and_views(url)[1] == []
        with Client(url, home=home) as client:
            stats = _check(client, finished)
        files = _store_files_are_whole(home / "artifacts")
    with Client(url, home=home) as client:  # the next run works and completes
        from tests.reliability.pipeline_child import killable

        run = killable(2000)
        assert client.api.get_run(run.id).status == "completed"
        assert run.model_version is not None and run.model_version.load_artifact("summary")["count"] == 2002
    print(f"\npipeline kill -9: {ROUNDS} rounds, {finished_count} finished before the kill, {stats}, "
          f"{files} store files whole")
