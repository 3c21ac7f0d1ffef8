"""User-facing configuration: model stages, the model context of a pipeline, artifact link configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from modelog.application.requests import ModelContext, model_context
from modelog.registry.errors import RegistryError
from modelog.registry.selectors import SelectorKind, parse_selector
from modelog.registry.values import ArtifactKind
from modelog.registry.vocabulary import MODEL_TEXT_FIELDS
from modelog.sdk.errors import ConfigError


class ModelStages(StrEnum):
    """The registry's stages plus the ``latest`` selector (usable wherever a version is chosen)."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"
    LATEST = "latest"


_REFUSED_WITH_NEW_VERSION = {
    SelectorKind.NUMBER: "a numeric version",
    SelectorKind.STAGE: "a stage",
    SelectorKind.LATEST: "'latest'",
    SelectorKind.ALIAS: "an alias",
}


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The model a pipeline works in.

    ``version`` may be an int or numeric string (the number), a version name, ``"@alias"``,
    a :class:`ModelStages` member or its value, or None (the latest version when not
    creating). With ``create_new_model_version=True`` a new version is created for each
    run; ``version`` may then only be the new version's name. The model is registered with
    this metadata when it does not exist yet.
    """

    name: str
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    tags: tuple[str, ...] = ()
    version: Any = None
    version_description: str | None = None
    create_new_model_version: bool = False
    delete_new_version_on_failure: bool = True
    _context: ModelContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        try:
            object.__setattr__(self, "_context", self._build_context())
        except ConfigError:
            raise
        except RegistryError as error:
            raise ConfigError(f"invalid ModelConfig for {self.name!r}: {error}") from None

    def _build_context(self) -> ModelContext:
        selector = parse_selector(getattr(self.version, "value", self.version))
        refused = _REFUSED_WITH_NEW_VERSION.get(selector.kind) if self.version is not None else None
        if self.create_new_model_version and refused:
            raise ConfigError(f"ModelConfig {self.name!r}: create_new_model_version=True cannot be combined "
                              f"with {refused} (version={self.version!r}); give a new version name or None")
        new_name = None if self.version is None else str(selector.value)
        return model_context(self.name, fields=self._fields(), tags=self.tags, version=selector,
                             create_new_version=self.create_new_model_version,
                             version_name=new_name if self.create_new_model_version else None,
                             version_description=self.version_description)

    def _fields(self) -> dict[str, str | None]:
        return {n: getattr(self, n) for n in MODEL_TEXT_FIELDS if getattr(self, n) is not None}

    def to_context(self) -> ModelContext:
        """The core's model context for a run in this configuration."""
        return self._context


@dataclass(frozen=True)
class ArtifactConfig:
    """How a step output is linked to the model version: as data, under ``name``, optionally overwriting."""

    name: str | None = None
    overwrite: bool = False
    kind: ClassVar[ArtifactKind] = ArtifactKind.DATA


@dataclass(frozen=True)
class ModelArtifactConfig(ArtifactConfig):
    """Link the output as a model object of the version."""

    kind: ClassVar[ArtifactKind] = ArtifactKind.MODEL


@dataclass(frozen=True)
class DeploymentArtifactConfig(ArtifactConfig):
    """Link the output as a deployment of the version."""

    kind: ClassVar[ArtifactKind] = ArtifactKind.DEPLOYMENT
