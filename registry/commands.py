"""Commands: imperative requests to change the registry. Each is validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelog.registry.errors import InvalidInputError
from modelog.registry.selectors import VersionSelector, parse_selector
from modelog.registry.validation import clean_alias, clean_name, clean_tags, clean_text, clean_version_name
from modelog.registry.values import ArtifactKind, DeleteReason, Stage, parse_kind, parse_stage

MODEL_TEXT_FIELDS = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")


def clean_id(value: object, what: str) -> str:
    """Validate an identifier (run id, artifact id): non-empty text without control characters or slashes."""
    return clean_name(value, what)


def parse_reason(value: object) -> DeleteReason:
    """Parse a delete reason (user, pipeline_failure)."""
    try:
        return DeleteReason(str(getattr(value, "value", value)).strip().casefold())
    except ValueError:
        choices = ", ".join(r.value for r in DeleteReason)
        raise InvalidInputError(f"unknown delete reason {value!r}; reasons are {choices}") from None


def _clean_changes(changes: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, str | None]:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return {k: clean_text(v, k.replace("_", " ")) for k, v in changes.items()}


@dataclass(frozen=True)
class Command:
    """Base class of commands."""


@dataclass(frozen=True)
class RegisterModel(Command):
    """Register a new model under a name no live model holds."""

    name: str
    fields: dict[str, str | None] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    implicit: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_name(self.name, "model name"))
        object.__setattr__(self, "fields", _clean_changes(self.fields, MODEL_TEXT_FIELDS))
        object.__setattr__(self, "tags", clean_tags(self.tags))


@dataclass(frozen=True)
class UpdateModel(Command):
    """Change some text fields of a model, add tags and remove tags (removing an unknown tag is a no-op)."""

    model: str
    changes: dict[str, str | None] = field(default_factory=dict)
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", clean_name(self.model, "model name"))
        object.__setattr__(self, "changes", _clean_changes(self.changes, MODEL_TEXT_FIELDS))
        object.__setattr__(self, "add_tags", clean_tags(self.add_tags))
        object.__setattr__(self, "remove_tags", clean_tags(self.remove_tags))


@dataclass(frozen=True)
class DeleteModel(Command):
    """Delete a model (tombstone) and free its name."""

    model: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", clean_name(self.model, "model name"))


@dataclass(frozen=True)
class CreateVersion(Command):
    """Create the next version of a model."""

    model: str
    name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", clean_name(self.model, "model name"))
        if self.name is not None:
            object.__setattr__(self, "name", clean_version_name(self.name))
        object.__setattr__(self, "description", clean_text(self.description, "description"))
        object.__setattr__(self, "tags", clean_tags(self.tags))


@dataclass(frozen=True)
class _VersionCommand(Command):
    """A command addressed to one version of a model."""

    model: str
    version: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", clean_name(self.model, "model name"))
        object.__setattr__(self, "version", parse_selector(self.version))

    @property
    def selector(self) -> VersionSelector:
        """The parsed version selector."""
        return self.version  # type: ignore[no-any-return]


@dataclass(frozen=True)
class UpdateVersion(_VersionCommand):
    """Rename a version, change its description or its tags."""

    name: str | None = None
    description: str | None = None
    set_description: bool = False
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name is not None:
            object.__setattr__(self, "name", clean_version_name(self.name))
        object.__setattr__(self, "description", clean_text(self.description, "description"))
        object.__setattr__(self, "add_tags", clean_tags(self.add_tags))
        object.__setattr__(self, "remove_tags", clean_tags(self.remove_tags))


@dataclass(frozen=True)
class SetStage(_VersionCommand):
    """Move a version into a stage; ``force`` archives the current holder of staging/production."""

    stage: Any = Stage.NONE
    force: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "stage", parse_stage(self.stage))


@dataclass(frozen=True)
class SetAlias(_VersionCommand):
    """Point an alias at a version (moving it if another version holds it)."""

    alias: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "alias", clean_alias(self.alias))


@dataclass(frozen=True)
class RemoveAlias(Command):
    """Remove an alias from whichever version holds it."""

    model: str
    alias: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", clean_name(self.model, "model name"))
        object.__setattr__(self, "alias", clean_alias(self.alias))


@dataclass(frozen=True)
class LinkArtifact(_VersionCommand):
    """Link a stored artifact version to a model version."""

    pipeline: str = ""
    step: str = ""
    name: str = ""
    kind: Any = ArtifactKind.DATA
    artifact_id: str = ""
    artifact_name: str = ""
    artifact_version: int = 1
    content_hash: str = ""
    run_id: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for attr in ("pipeline", "step", "name", "artifact_name"):
            object.__setattr__(self, attr, clean_name(getattr(self, attr), attr.replace("_", " ")))
        object.__setattr__(self, "kind", parse_kind(self.kind))
        object.__setattr__(self, "artifact_id", clean_id(self.artifact_id, "artifact id"))
        if isinstance(self.artifact_version, bool) or not isinstance(self.artifact_version, int) \
                or self.artifact_version < 1:
            raise InvalidInputError(f"artifact version must be a whole number >= 1, got {self.artifact_version!r}")

    def link_fields(self) -> dict[str, Any]:
        """The fields of the ArtifactLinked event this command asks for."""
        return {
            "pipeline": self.pipeline, "step": self.step, "name": self.name, "kind": self.kind,
            "artifact_id": self.artifact_id, "artifact_name": self.artifact_name,
            "artifact_version": self.artifact_version, "content_hash": self.content_hash, "run_id": self.run_id,
        }


@dataclass(frozen=True)
class LinkRun(_VersionCommand):
    """Link a pipeline run to a model version (idempotent)."""

    run_id: str = ""
    pipeline: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "run_id", clean_id(self.run_id, "run id"))
        object.__setattr__(self, "pipeline", clean_name(self.pipeline, "pipeline name"))


@dataclass(frozen=True)
class DeleteVersion(_VersionCommand):
    """Delete a version, with the reason (and the failed run for ``pipeline_failure``)."""

    reason: DeleteReason = DeleteReason.USER
    run_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "reason", parse_reason(self.reason))
        if self.reason is DeleteReason.PIPELINE_FAILURE and not self.run_id:
            raise InvalidInputError("a version deleted for a pipeline failure must name the failed run (run_id)")


@dataclass(frozen=True)
class ModelContext:
    """The model a pipeline run works in: which model, and which version (or a new one)."""

    name: str
    version: Any = None
    create_new_version: bool = False
    version_name: str | None = None
    version_description: str | None = None
    register: RegisterModel | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_name(self.name, "model name"))
        object.__setattr__(self, "version", parse_selector(self.version))
        if self.version_name is not None:
            object.__setattr__(self, "version_name", clean_version_name(self.version_name))


@dataclass(frozen=True)
class StartRun(Command):
    """Start a pipeline run, creating or resolving its model version and linking the run to it."""

    run_id: str
    pipeline: str
    model: ModelContext | None = None
    enable_cache: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_id", clean_id(self.run_id, "run id"))
        object.__setattr__(self, "pipeline", clean_name(self.pipeline, "pipeline name"))


@dataclass(frozen=True)
class OutputSpec:
    """One step output to record and how it links to the model version.

    With ``artifact_id`` set the output reuses an existing artifact version (a cached
    step); otherwise a new version of ``artifact_name`` is stored.
    """

    name: str
    uri: str
    content_hash: str
    data_type: str
    materializer: str
    artifact_name: str = ""
    kind: ArtifactKind | None = ArtifactKind.DATA
    overwrite: bool = False
    artifact_id: str | None = None
    artifact_version: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean_name(self.name, "output name"))
        object.__setattr__(self, "artifact_name", clean_name(self.artifact_name or self.name, "artifact name"))
        if self.kind is not None:
            object.__setattr__(self, "kind", parse_kind(self.kind))


@dataclass(frozen=True)
class CompleteStep(Command):
    """Record a finished step: store its artifact versions, link them, mark the step completed."""

    run_id: str
    step: str
    outputs: tuple[OutputSpec, ...] = ()
    cached: bool = False
    cache_key: str | None = None
    duration_ms: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", clean_name(self.step, "step name"))


@dataclass(frozen=True)
class FinishRun(Command):
    """End a run: completed, or failed with the error (deleting the version it created, if asked)."""

    run_id: str
    error_type: str | None = None
    error_message: str | None = None
    failed_step: str | None = None
    delete_created_version: bool = False
    duration_ms: float = 0.0
