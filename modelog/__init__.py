"""modelog: an event-sourced model registry.

The public SDK, importable from here: ``from modelog import pipeline, step, ModelConfig, Client``.
Names load on first access (PEP 562), so ``import modelog`` stays cheap and loads no
scikit-learn, pandas or numpy. The layers are subpackages: ``modelog.registry`` (domain and
log), ``modelog.projections`` (read models), ``modelog.application`` (use cases),
``modelog.sdk`` and ``modelog.cli`` (adapters).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelog.sdk import __all__ as __all__

if TYPE_CHECKING:
    from modelog.sdk import *  # noqa: F403 - the same names, for type checkers


def __getattr__(name: str) -> Any:
    """Load a public name from the SDK on first access."""
    if name not in __all__:
        raise AttributeError(f"module 'modelog' has no attribute {name!r}")
    value = getattr(importlib.import_module("modelog.sdk"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
