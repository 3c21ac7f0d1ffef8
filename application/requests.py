"""Typed requests the run use cases take: the model context of a pipeline run and a step's outputs.

Adapters build these values (never commands): ``model_context`` checks a run's model
configuration once, up front, with the same rules and messages as the commands that use it.
A step's output is either an :class:`OutputSpec` (its bytes already in the store, at ``uri``)
or an :class:`OutputBytes` (its bytes carried along: ``complete_step`` stores them first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelog.registry.artifact_store import uri_for
from modelog.registry.commands import ModelContext, OutputSpec, RegisterModel

__all__ = ["ModelContext", "OutputBytes", "OutputSpec", "model_context"]


@dataclass(frozen=True)
class OutputBytes:
    """A new step output carried with its bytes: ``complete_step`` stores them (content-addressed, refused unless
    they hash to ``content_hash``, written durably) before it appends the step that records them."""

    name: str
    data: bytes = field(repr=False)
    content_hash: str
    data_type: str
    materializer: str
    artifact_name: str = ""
    kind: str | None = "data"
    overwrite: bool = False

    def spec(self) -> OutputSpec:
        """The output as the step command records it: at the store location its declared hash names (validated
        here, before anything is stored)."""
        return OutputSpec(name=self.name, uri=uri_for(self.content_hash), content_hash=self.content_hash,
                          data_type=self.data_type, materializer=self.materializer,
                          artifact_name=self.artifact_name, kind=self.kind, overwrite=self.overwrite)


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
