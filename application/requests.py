"""Typed requests the run use cases take: the model context of a pipeline run and a step's outputs.

Adapters build these values (never commands): ``model_context`` checks a run's model
configuration once, up front, with the same rules and messages as the commands that use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelog.registry.commands import ModelContext, OutputSpec, RegisterModel

__all__ = ["ModelContext", "OutputSpec", "model_context"]


def model_context(name: str, *, fields: Mapping[str, str | None], tags: Sequence[str], version: object,
                  create_new_version: bool, version_name: str | None = None,
                  version_description: str | None = None) -> ModelContext:
    """The model a run works in: registered (implicitly, with ``fields`` and ``tags``) on first use,
    then either ``version`` resolved, or a new version (named ``version_name``) created for each run."""
    register = RegisterModel(name=name, fields=dict(fields), tags=tuple(tags), implicit=True)
    if create_new_version:
        return ModelContext(name=name, create_new_version=True, register=register, version_name=version_name,
                            version_description=version_description)
    return ModelContext(name=name, version=version, register=register)
