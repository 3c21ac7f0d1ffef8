"""The walkthrough's producer and consumer through a real server, from client homes that hold no registry.

``train.py`` runs in one client home and ``predict.py`` in another: the consumer loads the
classifier and datasets the producer stored, through the server's artifact store. The CLI
reads the same registry remotely, and the server's registry verifies afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from modelog.application.local import connect

from tests.server_support import MODELOG, PRINCIPAL, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "model_control_plane"

pytestmark = pytest.mark.skipif(not (EXAMPLE / "train.py").exists(), reason="examples not present")


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=EXAMPLE, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr}"
    return done.stdout


def test_train_and_predict_through_the_server(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(db_url, tmp_path / "server-home")
    producer, consumer = tmp_path / "producer-home", tmp_path / "consumer-home"
    try:
        assert "trained model 'demo' version 1" in _run([sys.executable, "train.py"], server.client_env(producer))
        assert "with model 'demo' version 1" in _run([sys.executable, "predict.py"], server.client_env(consumer))
        _run([sys.executable, "predict.py"], server.client_env(consumer))
        cli = server.client_env(consumer)
        links = _run([str(MODELOG), "model", "version", "artifacts", "demo", "production"], cli)
        assert "predictions:2" in links and "train_dataset" in links
        versions = _run([str(MODELOG), "model", "version", "list", "demo", "-o", "json"], cli)
        assert '"stage": "production"' in versions
        assert "Log intact" in _run([str(MODELOG), "log", "verify"], cli)
        _run([str(MODELOG), "projections", "verify"], cli)
        _run([str(MODELOG), "artifacts", "verify"], cli)
        exported = tmp_path / "log.jsonl"
        _run([str(MODELOG), "export", str(exported)], cli)
        assert exported.stat().st_size > 0
        for home in (producer, consumer):  # nothing local: no database, no artifact store
            assert not home.exists() or not any(home.rglob("*")), sorted(home.rglob("*"))
    finally:
        server.stop()
    assert server.stopped_gracefully()
    local = {"PATH": str(Path(sys.executable).parent), "MODELOG_HOME": str(tmp_path / "server-home"),
             "MODELOG_DATABASE_URL": db_url}
    for command in (["log", "verify"], ["projections", "verify"], ["artifacts", "verify"]):
        _run([str(MODELOG), *command], local)
    with connect(db_url, home=tmp_path / "server-home") as registry:  # who the log says acted
        remote_events = [e for e in registry.log_events(limit=100_000) if not e.stream_id.startswith(
            ("principal-", "token-"))]
    assert remote_events and {e.meta["actor"] for e in remote_events} == {PRINCIPAL}
    assert {e.meta.get("claimed_actor") for e in remote_events} == {"remote-client"}  # MODELOG_ACTOR: recorded only
