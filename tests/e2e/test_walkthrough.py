"""The reference walkthrough, command for command with ``modelog`` for ``zenml``, in real subprocesses.

Each step runs the installed ``modelog`` console script (or the example scripts) on a fresh
MODELOG_HOME, on every selected backend, and its output is checked as a new user would read it.
Prompts (``modelog model delete demo_cli`` without -y) are answered at a real pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "model_control_plane"
MODELOG = Path(sys.executable).parent / "modelog"

pytestmark = pytest.mark.skipif(not (EXAMPLE / "train.py").exists(), reason="examples not present")


class Walkthrough:
    """Runs the walkthrough's commands in one environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def modelog(self, *args: str) -> str:
        """Run ``modelog ARGS`` without a terminal; it must succeed; return its stdout."""
        done = subprocess.run([str(MODELOG), *args], capture_output=True, text=True, env=self.env, cwd=EXAMPLE,
                              timeout=120, check=False)
        assert done.returncode == 0, f"modelog {' '.join(args)} failed: {done.stderr}"
        assert done.stderr == "", done.stderr
        return done.stdout

    def at_terminal(self, answer: str, *args: str) -> str:
        """Run ``modelog ARGS`` with stdin on a pseudo-terminal and type ``answer``; return its stdout."""
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([str(MODELOG), *args], stdin=slave, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=self.env, cwd=EXAMPLE)
            os.close(slave)
            os.write(master, answer.encode())
            out, err = proc.communicate(timeout=120)
        finally:
            os.close(master)
        assert proc.returncode == 0, err
        return out

    def python(self, script: str) -> str:
        """Run an example script with this interpreter; return its stdout."""
        done = subprocess.run([sys.executable, script], capture_output=True, text=True, env=self.env, cwd=EXAMPLE,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout


def rows(output: str) -> list[list[str]]:
    """The data rows of a table, split on whitespace (header dropped)."""
    return [line.split() for line in output.splitlines()[1:]]


@pytest.fixture
def walk(db_url: str, tmp_path: Path) -> Walkthrough:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOG_")}
    env.update(MODELOG_HOME=str(tmp_path / "home"), MODELOG_DATABASE_URL=db_url, MODELOG_ACTOR="walker")
    return Walkthrough(env)


def test_reference_walkthrough(walk: Walkthrough, db_url: str, tmp_path: Path) -> None:
    where = tmp_path / "home" if db_url.startswith("sqlite") else db_url.replace("postgresql+psycopg", "postgresql")
    cleaned = walk.at_terminal("y\n", "clean")
    assert cleaned.startswith("Nothing to clean: there is no registry in ")
    assert str(where).split("://")[-1].split("/")[-1] in cleaned

    assert walk.modelog("integration", "install", "sklearn") == (
        "Integration 'sklearn' is already installed (scikit-learn>=1.3, pandas>=2.0, joblib>=1.3).\n")
    assert walk.modelog("model", "list") == "No models found.\n"

    assert "trained model 'demo' version 1" in walk.python("train.py")
    models = rows(walk.modelog("model", "list"))
    assert [r[:4] for r in models] == [["demo", "1", "1", "1"]]  # NAME, PRODUCTION, LATEST, VERSIONS
    described = rows(walk.modelog("model", "list", "--columns", "name,description,license"))
    assert described == [["demo", "Show", "case", "Model", "Control", "Plane.", "Apache"]]

    assert [r[:7] for r in rows(walk.modelog("model", "version", "list", "demo"))] == [
        ["1", "1", "production", "2", "1", "0", "1"]]
    assert [r[:5] for r in rows(walk.modelog("model", "version", "artifacts", "demo", "1"))] == [
        ["producer", "load_data", "train_dataset", "1", "train_dataset:1"],
        ["producer", "load_data", "test_dataset", "1", "test_dataset:1"]]
    assert [r[:5] for r in rows(walk.modelog("model", "version", "model_objects", "demo", "1"))] == [
        ["producer", "train_model", "classifier", "1", "classifier:1"]]
    assert walk.modelog("model", "version", "deployments", "demo", "1") == (
        "No deployments linked to version 1 of model 'demo'.\n")
    assert [(r[0], r[2]) for r in rows(walk.modelog("model", "version", "runs", "demo", "1"))] == [
        ("producer", "completed")]
    shown = walk.modelog("model", "version", "show", "demo", "production")
    assert "Stage:        production" in shown
    accuracy = [line.split() for line in shown.splitlines() if line.strip().startswith("accuracy")]
    assert len(accuracy) == 1 and 0.5 < float(accuracy[0][1]) <= 1.0
    assert "Production:   1" in walk.modelog("model", "show", "demo")

    assert "with model 'demo' version 1" in walk.python("predict.py")
    versions = rows(walk.modelog("model", "version", "list", "demo"))
    assert [r[:7] for r in versions] == [["1", "1", "production", "3", "1", "0", "2"]]
    assert [r[2:4] for r in rows(walk.modelog("model", "version", "artifacts", "demo", "1"))] == [
        ["train_dataset", "1"], ["test_dataset", "1"], ["predictions", "1"]]

    walk.python("predict.py")
    assert [r[2:5] for r in rows(walk.modelog("model", "version", "artifacts", "demo", "1"))] == [
        ["train_dataset", "1", "train_dataset:1"], ["test_dataset", "1", "test_dataset:1"],
        ["predictions", "1", "predictions:1"], ["predictions", "2", "predictions:2"]]
    assert [(r[0], r[2]) for r in rows(walk.modelog("model", "version", "runs", "demo", "1"))] == [
        ("producer", "completed"), ("consumer", "completed"), ("consumer", "completed")]

    assert walk.modelog("model", "update", "demo", "-t", "tag1", "-t", "tag2", "-e", "some ethical implications") \
        == "Model 'demo' updated.\n"
    assert "tag1, tag2" in walk.modelog("model", "list")
    registered = walk.modelog("model", "register", "-n", "demo_cli", "-d", "created from cli", "-t", "cli")
    assert registered.startswith("Model 'demo_cli' registered (id ")

    assert walk.at_terminal("y\n", "model", "delete", "demo_cli") == (
        "Delete model 'demo_cli' and its 0 version(s)? [y/N]: Model 'demo_cli' deleted.\n")
    assert walk.modelog("model", "delete", "demo", "-y") == "Model 'demo' deleted.\n"
    assert walk.modelog("model", "list") == "No models found.\n"

    # Afterwards the log still tells the whole story, and verifies.
    assert walk.modelog("log", "verify").startswith("Log intact: ")
    history = walk.modelog("model", "history", "demo")
    assert "deleted model 'demo'" in history and "ModelVersionStageChanged" in history
