"""The artifact store and materializers: content addressing, atomic writes, verification, round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from modelog.registry.artifact_store import ArtifactStore, content_hash, resolve_store_root
from modelog.registry.errors import IntegrityError, InvalidInputError
from modelog.sdk import materializers as m
from modelog.sdk.errors import ArtifactIntegrityError, ConfigError
from sklearn.linear_model import LogisticRegression


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    first, second = store.put(b"abc"), store.put(b"abc")
    assert first == second and first.content_hash == content_hash(b"abc")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [store.path_for(first.uri)]
    assert store.get(first.uri, first.content_hash, label="x") == b"abc"


def test_modified_file_is_refused_naming_artifact_and_hash(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    blob = store.put(b"original")
    store.path_for(blob.uri).write_bytes(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match=f"'model' v1 was modified: expected sha256 {blob.content_hash}"):
        store.get(blob.uri, blob.content_hash, label="'model' v1")
    assert store.check(blob.uri, blob.content_hash) == "corrupt"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    blob = store.put(b"gone")
    store.path_for(blob.uri).unlink()
    with pytest.raises(IntegrityError, match="missing from the store"):
        store.get(blob.uri, blob.content_hash, label="x")
    assert store.check(blob.uri, blob.content_hash) == "missing"


def test_a_corrupt_file_is_repaired_by_storing_the_same_content(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    blob = store.put(b"data")
    store.path_for(blob.uri).write_bytes(b"junk")
    store.put(b"data")
    assert store.get(blob.uri, blob.content_hash, label="x") == b"data"


@pytest.mark.parametrize("uri", ["../../etc/passwd", "sha256/ab/../../x", "/abs/path", "sha256/zz/" + "0" * 64,
                                 "sha256/00/" + "1" * 64])
def test_uris_cannot_escape_the_store(tmp_path: Path, uri: str) -> None:
    with pytest.raises(ArtifactIntegrityError, match="not a store location"):
        ArtifactStore(tmp_path).path_for(uri)


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    for i in range(5):
        store.put(str(i).encode())
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_store_root_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELOG_ARTIFACT_STORE", raising=False)
    assert resolve_store_root(tmp_path) == tmp_path / "artifacts"
    assert resolve_store_root(tmp_path, f"file://{tmp_path}/s") == tmp_path / "s"
    monkeypatch.setenv("MODELOG_ARTIFACT_STORE", str(tmp_path / "env"))
    assert resolve_store_root(tmp_path) == tmp_path / "env"
    with pytest.raises(InvalidInputError, match="unsupported artifact store URI"):
        resolve_store_root(tmp_path, "s3://bucket/x")


@pytest.mark.parametrize("value", [None, True, 3, 2.5, "text", [1, "a", None], {"a": [1, {"b": 2.0}]}])
def test_json_builtins_round_trip(value: object) -> None:
    stored = m.serialize(value)
    assert stored.materializer == m.JSON and m.deserialize(stored.data, m.JSON) == value


def test_numpy_arrays_use_npy_without_pickle() -> None:
    array = np.arange(12, dtype="float32").reshape(3, 4)
    stored = m.serialize(array)
    assert stored.materializer == m.NUMPY
    again = m.deserialize(stored.data, m.NUMPY)
    assert again.dtype == array.dtype and (again == array).all()


def test_object_arrays_fall_back_to_pickle() -> None:
    assert m.serialize(np.array([{"a": 1}], dtype=object)).materializer == m.PICKLE


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"x": [1.0, 2.5, float("nan")], "y": [1, 2, 3], "s": ["a", "b", None], "b": [True, False, True]}),
    pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-02-01"])}, index=[10, 20]),
    pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}),
    pd.DataFrame({1: [0.1 + 0.2], "n": pd.array([1], dtype="Int64")}),
    pd.DataFrame(),
])
def test_pandas_frames_round_trip_exactly(frame: pd.DataFrame) -> None:
    stored = m.serialize(frame)
    again = m.deserialize(stored.data, stored.materializer)
    pd.testing.assert_frame_equal(again, frame)


def test_pandas_safe_format_is_used_and_deterministic() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2], "label": ["a", "b"]}, index=pd.Index(["r1", "r2"], name="row"))
    first, second = m.serialize(frame), m.serialize(frame.copy())
    assert first.materializer == m.PANDAS and first.data == second.data
    series = pd.Series([1.5, 2.5], name="s")
    stored = m.serialize(series)
    assert stored.materializer == m.PANDAS
    pd.testing.assert_series_equal(m.deserialize(stored.data, m.PANDAS), series)


def test_sklearn_estimators_use_joblib() -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    stored = m.serialize(model)
    assert stored.materializer == m.SKLEARN
    assert m.deserialize(stored.data, m.SKLEARN).predict([[3.0]]).tolist() == [1]


class _Custom:
    def __init__(self, value: int) -> None:
        self.value = value


def test_pickle_fallback_logs_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    stored = m.serialize(_Custom(4))
    assert stored.materializer == m.PICKLE and m.deserialize(stored.data, m.PICKLE).value == 4
    assert "storing it with pickle" in capsys.readouterr().out


def test_unknown_materializer_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown materializer"):
        m.deserialize(b"", "nope")
