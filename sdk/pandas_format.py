"""A safe, deterministic file format for pandas DataFrames and Series (no pickle, no pyarrow needed).

Layout: a magic line, then length-prefixed blocks: a JSON header describing labels, dtypes
and the index, followed by one ``.npy`` block (saved without pickle) per numeric column.
Columns of other dtypes are stored as JSON values with their dtype name. An object that
does not survive the round trip exactly is refused (``dump`` returns None) so the caller
can fall back to another materializer instead of storing something different.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
from typing import Any

MAGIC = b"MODELOG-PANDAS-1\n"
_LEN = struct.Struct(">Q")


def _label_ok(label: Any) -> bool:
    if isinstance(label, float):
        return math.isfinite(label)
    return label is None or type(label) in (str, int, bool)


def _encode_values(values: Any, blocks: list[bytes]) -> dict[str, Any] | None:
    np = sys.modules["numpy"]
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and not dtype.hasobject:
        buffer = io.BytesIO()
        np.save(buffer, values.to_numpy(), allow_pickle=False)
        blocks.append(buffer.getvalue())
        return {"dtype": str(dtype), "block": len(blocks) - 1}
    try:
        return {"dtype": str(dtype), "values": json.loads(json.dumps(list(values.tolist())))}
    except (TypeError, ValueError):
        return None


def _encode_index(index: Any, blocks: list[bytes]) -> dict[str, Any] | None:
    pd = sys.modules["pandas"]
    if not _label_ok(index.name):
        return None
    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": index.name}
    encoded = _encode_values(pd.Series(index), blocks)
    return None if encoded is None else {**encoded, "name": index.name}


def _header(obj: Any, blocks: list[bytes]) -> dict[str, Any] | None:
    pd = sys.modules["pandas"]
    is_series = isinstance(obj, pd.Series)
    frame = obj.to_frame(name=0) if is_series else obj
    labels = [] if is_series else list(frame.columns)
    if isinstance(frame.index, pd.MultiIndex) or isinstance(frame.columns, pd.MultiIndex):
        return None
    if not all(_label_ok(label) for label in labels) or len(set(labels)) != len(labels):
        return None
    if is_series and not _label_ok(obj.name):
        return None
    columns = [_encode_values(frame.iloc[:, i], blocks) for i in range(frame.shape[1])]
    index = _encode_index(frame.index, blocks)
    labels_index = None if is_series else _encode_index(frame.columns, blocks)
    if index is None or any(c is None for c in columns) or (labels_index is None and not is_series):
        return None
    return {"kind": "series" if is_series else "frame", "name": obj.name if is_series else None,
            "labels": labels_index, "columns": columns, "index": index}


def dump(obj: Any) -> bytes | None:
    """The bytes of ``obj`` in this format, or None when it cannot be stored exactly."""
    blocks: list[bytes] = []
    try:
        header = _header(obj, blocks)
    except (TypeError, ValueError):
        return None
    if header is None:
        return None
    parts = [json.dumps(header, sort_keys=True).encode("utf-8"), *blocks]
    data = MAGIC + b"".join(_LEN.pack(len(p)) + p for p in parts)
    return data if _round_trips(obj, data) else None


def _round_trips(obj: Any, data: bytes) -> bool:
    try:
        again = load(data)
    except (TypeError, ValueError, KeyError):
        return False
    same_labels = isinstance(obj, sys.modules["pandas"].Series) or again.columns.equals(obj.columns)
    return type(again) is type(obj) and bool(again.equals(obj)) and again.index.equals(obj.index) \
        and same_labels and getattr(again, "name", None) == getattr(obj, "name", None)


def _split(data: bytes) -> list[bytes]:
    if not data.startswith(MAGIC):
        raise ValueError("not a modelog pandas artifact")
    parts, offset = [], len(MAGIC)
    while offset < len(data):
        (size,) = _LEN.unpack_from(data, offset)
        parts.append(data[offset + 8: offset + 8 + size])
        offset += 8 + size
    return parts


def _decode_values(spec: dict[str, Any], blocks: list[bytes]) -> Any:
    import numpy as np

    if "block" in spec:
        return np.load(io.BytesIO(blocks[spec["block"]]), allow_pickle=False)
    import pandas as pd

    return pd.array(spec["values"], dtype=spec["dtype"])


def _decode_index(spec: dict[str, Any], blocks: list[bytes]) -> Any:
    import pandas as pd

    if "range" in spec:
        return pd.RangeIndex(*spec["range"], name=spec["name"])
    return pd.Index(_decode_values(spec, blocks), dtype=spec["dtype"], name=spec["name"])


def load(data: bytes) -> Any:
    """The DataFrame or Series stored in ``data``."""
    import pandas as pd

    header_bytes, *blocks = _split(data)
    header = json.loads(header_bytes)
    index = _decode_index(header["index"], blocks)
    columns = [_decode_values(spec, blocks) for spec in header["columns"]]
    if header["kind"] == "series":
        return pd.Series(columns[0], index=index, name=header["name"], copy=False)
    frame = pd.DataFrame(dict(enumerate(columns)), index=index, copy=False)
    frame.columns = _decode_index(header["labels"], blocks)
    return frame
