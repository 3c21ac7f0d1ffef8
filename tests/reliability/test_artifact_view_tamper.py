"""Edited ``view_artifacts`` rows: loads and ``modelog artifacts verify`` trust the log, not the read model.

An attacker who can write to the database (but cannot forge the hash-chained log) edits the
artifact's read-model row (the open row of its history twin ``hist_artifacts``, which is what the view
``view_artifacts`` shows) to point at bytes of their choice, to claim another hash, or to switch
the materializer to pickle. Every load refuses (one line naming the artifact), nothing chosen by
the attacker is unpickled, a cached step is not served from the edited row, and
``modelog artifacts verify`` exits 1 naming the artifact.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Annotated, Any

import pytest
from modelog.projections.temporal import OPEN
from modelog.sdk.errors import ArtifactIntegrityError
from sqlalchemy import create_engine, text

from modelog import Client, ModelConfig, pipeline, step
from tests.reliability.test_artifact_tamper import Opaque, produce
from tests.reliability.test_tamper import modelog

PWNED = Path("/tmp/modelog-pwned-by-view-row")


class Boom:
    def __reduce__(self) -> Any:
        return (Path.touch, (PWNED,))


@pipeline(enable_cache=False, model_config=ModelConfig(name="viewed", create_new_model_version=True))
def make() -> None:
    produce()


def _edit_row(url: str, target: str, **values: str) -> None:
    engine = create_engine(url)
    sets = ", ".join(f"{column} = :{column}" for column in values)
    with engine.begin() as conn:
        changed = conn.execute(text(f"UPDATE hist_artifacts SET {sets} WHERE artifact_id = :id AND valid_to = :open"),
                               {**values, "id": target, "open": OPEN})
        assert changed.rowcount == 1
    engine.dispose()


def _attack(client: Client, attack: str) -> tuple[str, dict[str, str]]:
    """The artifact to edit and the edit: the attacker's pickle stored in the store, then pointed at."""
    artifacts = {a.name: a for a in client.list_artifacts()}
    evil = client.api.store_blob(pickle.dumps(Boom()))
    blob, params = artifacts["blob"], artifacts["params"]
    edits = {
        "uri": (blob.artifact_id, {"uri": evil.uri}),
        "content_hash": (blob.artifact_id, {"content_hash": evil.content_hash}),
        "uri and content_hash": (blob.artifact_id, {"uri": evil.uri, "content_hash": evil.content_hash}),
        "materializer": (params.artifact_id, {"materializer": "pickle"}),
    }
    return edits[attack]


@pytest.mark.parametrize("attack", ["uri", "content_hash", "uri and content_hash", "materializer"])
def test_edited_view_row_is_refused_by_loads_and_verify(db_url: str, home: Path, attack: str) -> None:
    PWNED.unlink(missing_ok=True)
    with Client(db_url, home=home) as client:
        run = make()
        assert run.model_version is not None
        ok = modelog("artifacts", "verify", url=db_url, home=home)
        assert ok.returncode == 0, ok.stderr
        artifact_id, edit = _attack(client, attack)
        _edit_row(db_url, artifact_id, **edit)
        name = "params" if attack == "materializer" else "blob"
        for load in (lambda: client.load_artifact(artifact_id), lambda: run.model_version.load_artifact(name)):
            with pytest.raises(ArtifactIntegrityError) as refused:
                load()
            message = str(refused.value)
            assert f"'{name}'" in message and "read model" in message and "\n" not in message, message
        assert not PWNED.exists(), "bytes the log does not vouch for were unpickled"
    checked = modelog("artifacts", "verify", url=db_url, home=home)
    assert checked.returncode == 1, checked
    assert f"'{name}'" in checked.stderr and "view-differs" in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr
    assert not PWNED.exists()


calls: list[str] = []


@step
def cached_blob() -> Annotated[Opaque, "cached_blob"]:
    calls.append("ran")
    return Opaque(7)


@pipeline(enable_cache=True, model_config=ModelConfig(name="cached-viewed", create_new_model_version=True))
def cached_make() -> None:
    cached_blob()


def test_cached_output_with_an_edited_view_row_is_not_served(db_url: str, home: Path) -> None:
    PWNED.unlink(missing_ok=True)
    calls.clear()
    with Client(db_url, home=home) as client:
        cached_make()
        cached_make()
        assert calls == ["ran"], "the second run should have been served from the cache"
        (artifact,) = client.list_artifacts()
        evil = client.api.store_blob(pickle.dumps(Boom()))
        _edit_row(db_url, artifact.artifact_id, uri=evil.uri, content_hash=evil.content_hash)
        third = cached_make()
        assert calls == ["ran", "ran"], "a cached output whose view row was edited must not be served"
        assert third.steps["cached_blob"]["cached_blob"].value.value == 7
    assert not PWNED.exists()


def test_forged_view_row_unknown_to_the_log_is_refused(db_url: str, home: Path) -> None:
    with Client(db_url, home=home) as client:
        make()
        blob = next(a for a in client.list_artifacts() if a.name == "blob")
        _edit_row(db_url, blob.artifact_id, artifact_id="forged-id")
        with pytest.raises(ArtifactIntegrityError, match="not recorded in the log"):
            client.load_artifact("forged-id")
    checked = modelog("artifacts", "verify", url=db_url, home=home)
    assert checked.returncode == 1 and "not-in-log" in checked.stderr, checked.stderr
