"""The step cache key covers the step's whole module: editing a module-level constant or helper is a miss.

Before, the key hashed only the step function's own source, so a run after such an edit was served
the stale cached result.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelog import Client

MODULE = '''
from typing import Annotated
from modelog import ModelConfig, pipeline, step

FACTOR = {factor}
calls = []


def helper(value):
    return value * {helper}


@step
def scaled(n: int) -> Annotated[int, "scaled"]:
    calls.append(n)
    return helper(n) * FACTOR


@pipeline(enable_cache=True, model_config=ModelConfig(name="modcache", create_new_model_version=True))
def flow(n: int) -> None:
    scaled(n)
'''


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Writes and (re)imports a user module ``modelog_generated_steps`` from ``tmp_path``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "modelog_generated_steps"

    def load(factor: int, helper: int = 1) -> Any:
        (tmp_path / f"{name}.py").write_text(MODULE.format(factor=factor, helper=helper))
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield load
    sys.modules.pop(name, None)


def _run(module: Any) -> int:
    return int(module.flow(3).steps["scaled"]["scaled"].value)


def test_changing_a_module_level_constant_or_helper_misses_the_cache(registry: Any, generated: Any) -> None:
    with Client(registry=registry):
        first = generated(factor=2)
        assert _run(first) == 6 and first.calls == [3]
        again = generated(factor=2)
        assert _run(again) == 6 and again.calls == [], "an unchanged module must hit the cache"
        changed = generated(factor=5)
        assert _run(changed) == 15 and changed.calls == [3], "a changed constant served a stale cached result"
        helper = generated(factor=5, helper=10)
        assert _run(helper) == 150 and helper.calls == [3], "a changed helper served a stale cached result"
