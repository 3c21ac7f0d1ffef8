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

__all__ = [
    "ArtifactConfig",
    "Client",
    "DeploymentArtifactConfig",
    "ModelArtifactConfig",
    "ModelConfig",
    "ModelStages",
    "get_step_context",
    "pipeline",
    "step",
]

if TYPE_CHECKING:
    from modelog.sdk.client import Client
    from modelog.sdk.config import (
        ArtifactConfig,
        DeploymentArtifactConfig,
        ModelArtifactConfig,
        ModelConfig,
        ModelStages,
    )
    from modelog.sdk.pipelines import get_step_context, pipeline
    from modelog.sdk.steps import step


def __getattr__(name: str) -> Any:
    """Load a public name from the SDK on first access."""
    if name not in __all__:
        raise AttributeError(f"module 'modelog' has no attribute {name!r}")
    value = getattr(importlib.import_module("modelog.sdk"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
