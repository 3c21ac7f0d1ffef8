"""Artifact files changed or removed after the fact: loading refuses naming the artifact and the expected hash,
nothing is deserialised (no code from a tampered pickle runs), and ``modelog artifacts verify`` finds every one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Annotated, Any

import pytest
from modelog.sdk.errors import ArtifactIntegrityError

from modelog import Client, ModelConfig, pipeline, step
from tests.reliability.test_tamper import modelog


class Opaque:
    """Stored with pickle (no safe materializer knows it): the dangerous case."""

    def __init__(self, value: int) -> None:
        self.value = value


@step
def produce() -> tuple[Annotated[dict, "params"], Annotated[Opaque, "blob"]]:
    return {"alpha": 0.5}, Opaque(42)


@pipeline(enable_cache=False, model_config=ModelConfig(name="tampered", create_new_model_version=True))
def make() -> None:
    produce()


class Boom:
    def __reduce__(self) -> Any:
        return (Path.touch, (Path("/tmp/modelog-pwned-by-artifact"),))


def _paths(client: Client) -> dict[str, tuple[Any, Path]]:
    return {a.name: (a, client.artifact_store.path_for(a.uri)) for a in client.api.list_artifacts()}


@pytest.mark.parametrize("attack", ["modified", "removed", "malicious pickle"])
def test_tampered_artifact_is_refused(tmp_path: Path, attack: str) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'registry.db'}"
    pwned = Path("/tmp/modelog-pwned-by-artifact")
    pwned.unlink(missing_ok=True)
    with Client(url, home=home) as client:
        run = make()
        assert run.model_version is not None
        artifact, path = _paths(client)["blob"]
        assert client.load_artifact(artifact.artifact_id).value == 42
        ok = modelog("artifacts", "verify", url=url, home=home)
        assert ok.returncode == 0 and "Artifacts intact: 2 versions" in ok.stdout, ok.stderr
        if attack == "removed":
            path.unlink()
        else:
            path.write_bytes(pickle.dumps(Boom()) if attack == "malicious pickle" else path.read_bytes() + b"!")
        with pytest.raises(ArtifactIntegrityError) as refused:
            run.model_version.load_artifact("blob")
        message = str(refused.value)
        assert "'blob'" in message and artifact.content_hash in message and "\n" not in message, message
        assert not pwned.exists(), "code from a tampered artifact ran"
        assert client.load_artifact(_paths(client)["params"][0].artifact_id) == {"alpha": 0.5}
    checked = modelog("artifacts", "verify", url=url, home=home)
    assert checked.returncode == 1, checked
    assert "'blob'" in checked.stderr and artifact.content_hash in checked.stderr
    assert ("missing" if attack == "removed" else "corrupt") in checked.stderr
    assert checked.stderr.strip().splitlines()[-1] == f"Error: 1 of 2 artifact versions failed the check in " \
                                                     f"{home / 'artifacts'}"
    as_json = modelog("artifacts", "verify", "-o", "json", url=url, home=home)
    assert as_json.returncode == 1 and '"ok": false' in as_json.stdout.replace('"ok":false', '"ok": false')
