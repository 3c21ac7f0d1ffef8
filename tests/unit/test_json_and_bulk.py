"""The fast JSON paths give exactly the standard library's results; bulk passes restore the collector."""

from __future__ import annotations

import gc
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelog.registry._sql.bulk import cyclic_gc_paused
from modelog.registry._sql.json_decode import decode_json
from modelog.registry.hashing import canonical_json

REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


def same(a: object, b: object) -> bool:
    """Equal, counting NaN equal to NaN (json.loads gives a fresh NaN each time)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@given(values, st.booleans())
def test_decode_json_returns_what_json_loads_returns(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert same(decode_json(text), json.loads(text))


@given(values)
def test_canonical_json_is_the_sorted_compact_encoding(value: object) -> None:
    assert canonical_json(value) == REFERENCE.encode(value)


@pytest.mark.parametrize("text", ['"\\ud800"', '{"a":1,"a":2}', "[NaN, Infinity, -Infinity]", "1e400", " [1] "])
def test_decode_json_agrees_on_edge_cases(text: str) -> None:
    assert same(decode_json(text), json.loads(text))


@pytest.mark.parametrize("text", ['{"a":', "", "[1,]", "{'a': 1}", "[1] x"])
def test_decode_json_refuses_bad_text_as_json_does(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_json(text)


def test_gc_pause_restores_the_collector_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_gc_pause_leaves_a_collector_the_caller_switched_off_alone() -> None:
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
