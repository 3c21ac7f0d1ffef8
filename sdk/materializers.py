"""Materializers: turn step outputs into bytes and back.

Tried in order: exact JSON builtins, numpy arrays (``.npy`` without pickle), pandas
objects (a safe column format, see :mod:`sdk.pandas_format`), scikit-learn estimators
(joblib), then a pickle fallback that logs a warning. numpy, pandas, scikit-learn and
joblib are only imported when an object of theirs is being stored or loaded.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from modelog.registry.logs import get_logger
from modelog.sdk.errors import ConfigError

log = get_logger("modelog.sdk")

JSON, NUMPY, PANDAS, SKLEARN, PICKLE = "builtins.json", "numpy.npy", "pandas.modelog", "sklearn.joblib", "pickle"


@dataclass(frozen=True)
class Serialized:
    """An object's stored form: the bytes, which materializer wrote them, and the object's type."""

    data: bytes
    materializer: str
    data_type: str


def data_type_of(obj: Any) -> str:
    """``module.QualifiedName`` of the object's type."""
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _exact_json(value: Any) -> bool:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_exact_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _exact_json(v) for k, v in value.items())
    return False


def _is_instance(obj: Any, module: str, attr: str) -> bool:
    """isinstance against a class of a library, without importing the library if it is not loaded."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, attr, None) if loaded is not None else None
    return cls is not None and isinstance(obj, cls)


def _dump_json(obj: Any) -> bytes | None:
    if not _exact_json(obj):
        return None
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _dump_numpy(obj: Any) -> bytes | None:
    if not _is_instance(obj, "numpy", "ndarray") or obj.dtype.hasobject or type(obj).__name__ != "ndarray":
        return None
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, obj, allow_pickle=False)
    return buffer.getvalue()


def _dump_pandas(obj: Any) -> bytes | None:
    if not (_is_instance(obj, "pandas", "DataFrame") or _is_instance(obj, "pandas", "Series")):
        return None
    from modelog.sdk import pandas_format

    return pandas_format.dump(obj)


def _dump_sklearn(obj: Any) -> bytes | None:
    if not _is_instance(obj, "sklearn.base", "BaseEstimator"):
        return None
    import joblib

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


_DUMPERS: tuple[tuple[str, Callable[[Any], bytes | None]], ...] = (
    (JSON, _dump_json), (NUMPY, _dump_numpy), (PANDAS, _dump_pandas), (SKLEARN, _dump_sklearn),
)


def serialize(obj: Any, *, warn: bool = True) -> Serialized:
    """Store ``obj`` with the first materializer that can represent it exactly (pickle as a last resort)."""
    for name, dumper in _DUMPERS:
        data = dumper(obj)
        if data is not None:
            return Serialized(data, name, data_type_of(obj))
    if warn:
        log.warning("no safe materializer for this type; storing it with pickle",
                    data_type=data_type_of(obj))
    try:
        return Serialized(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), PICKLE, data_type_of(obj))
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise ConfigError(f"cannot store an object of type {data_type_of(obj)}: {error}") from None


def _load_numpy(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _load_pandas(data: bytes) -> Any:
    from modelog.sdk import pandas_format

    return pandas_format.load(data)


def _load_sklearn(data: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(data))


_LOADERS: dict[str, Callable[[bytes], Any]] = {
    JSON: lambda data: json.loads(data.decode("utf-8")),
    NUMPY: _load_numpy,
    PANDAS: _load_pandas,
    SKLEARN: _load_sklearn,
    PICKLE: pickle.loads,
}


_FILE_LOADERS: dict[str, Callable[[IO[bytes]], Any]] = {
    NUMPY: lambda handle: _numpy().load(handle, allow_pickle=False),
    SKLEARN: lambda handle: _joblib().load(handle),
    PICKLE: pickle.load,
}


def _numpy() -> Any:
    import numpy as np

    return np


def _joblib() -> Any:
    import joblib

    return joblib


def deserialize_file(handle: IO[bytes], materializer: str) -> Any:
    """Rebuild an object from a file of verified bytes, read from the file as the format goes (numpy, joblib and
    pickle: never one bytes object of the whole file). Callers must check the content hash first."""
    loader = _FILE_LOADERS.get(materializer)
    if loader is None:  # JSON and the pandas format are parsed from their bytes
        return deserialize(handle.read(), materializer)
    return loader(handle)


def deserialize(data: bytes, materializer: str) -> Any:
    """Rebuild an object from verified bytes. Callers must check the content hash first."""
    loader = _LOADERS.get(materializer)
    if loader is None:
        raise ConfigError(f"unknown materializer {materializer!r}; known: {', '.join(sorted(_LOADERS))}")
    return loader(data)

