"""The Model Control Plane example, run for real in subprocesses on a fresh MODELOG_HOME.

Each step's effect is asserted through ``sdk.Client`` on the same registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from modelog.registry.errors import NotFoundError

from modelog import Client, ModelStages

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "model_control_plane"


def _run(script: str, home: Path) -> str:
    env = {**os.environ, "MODELOG_HOME": str(home)}
    env.pop("MODELOG_DATABASE_URL", None)
    env.pop("MODELOG_ARTIFACT_STORE", None)
    done = subprocess.run([sys.executable, script], cwd=EXAMPLE, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _client(home: Path) -> Client:
    return Client(f"sqlite:///{home / 'registry.db'}", home=home, artifact_store=home / "artifacts")


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MODELOG_DATABASE_URL", raising=False)
    return tmp_path / "home"


def test_walkthrough_train_then_predict_twice(fresh_home: Path) -> None:
    assert not fresh_home.exists()
    assert "version 1" in _run("train.py", fresh_home)
    with _client(fresh_home) as client:
        assert [m.name for m in client.list_models().items] == ["demo"]
        assert client.get_model("demo").license == "Apache"
        versions = client.list_model_versions("demo")
        assert [v.number for v in versions] == [1]
        version = versions[0]
        assert [lk.name for lk in version.artifacts] == ["train_dataset", "test_dataset"]
        assert [lk.name for lk in version.model_objects] == ["classifier"]
        assert version.deployments == []
        assert [(r.pipeline, r.status) for r in version.runs] == [("producer", "completed")]
        assert version.stage is ModelStages.PRODUCTION
        test = version.load_artifact("test_dataset")
        accuracy = version.load_artifact("classifier").score(test.drop(columns="target"), test["target"])
        assert accuracy > 0.9

    _run("predict.py", fresh_home)
    with _client(fresh_home) as client:
        assert [v.number for v in client.list_model_versions("demo")] == [1]
        links = client.list_artifact_links("demo", 1, kind="data")
        assert [(lk.name, lk.link_version) for lk in links if lk.name == "predictions"] == [("predictions", 1)]

    _run("predict.py", fresh_home)
    with _client(fresh_home) as client:
        version = client.get_model_version("demo", ModelStages.PRODUCTION)
        assert version.number == 1
        assert [v.number for v in client.list_model_versions("demo")] == [1]
        assert [(lk.name, lk.link_version) for lk in version.artifacts] == [
            ("train_dataset", 1), ("test_dataset", 1), ("predictions", 1), ("predictions", 2)]
        assert [r.pipeline for r in version.runs] == ["producer", "consumer", "consumer"]
        assert all(r.status == "completed" for r in version.runs)
        assert len(version.load_artifact("predictions", version=2)) == len(test)
        with pytest.raises(NotFoundError, match="no version 2"):
            client.get_model_version("demo", 2)
        assert client.verify_artifacts().ok
