"""modelog SDK: pipelines and steps that record every run, output and link in the event log.

Names are loaded lazily (PEP 562) so ``import sdk`` and ``import sdk.bootstrap`` stay
cheap; nothing here imports scikit-learn, pandas or numpy.
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

_HOMES = {
    "ArtifactConfig": "modelog.sdk.config",
    "Client": "modelog.sdk.client",
    "DeploymentArtifactConfig": "modelog.sdk.config",
    "ModelArtifactConfig": "modelog.sdk.config",
    "ModelConfig": "modelog.sdk.config",
    "ModelStages": "modelog.sdk.config",
    "get_step_context": "modelog.sdk.pipelines",
    "pipeline": "modelog.sdk.pipelines",
    "step": "modelog.sdk.steps",
}

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
    """Load a public name from its module on first access."""
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
