"""Commands: imperative requests to change the registry, each carrying its parsed, typed values.

A command is built from raw user values (``SetStage(model="demo", version=1, stage="production")``)
and validated on construction: every field's ``mode="before"`` validator turns the raw value into
its type (a cleaned name, a :class:`VersionSelector`, a :class:`Stage`...), so the attributes hold
parsed values only. A refusal is always an :class:`InvalidInputError`, never pydantic's own error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from modelog.registry.errors import InvalidInputError
from modelog.registry.metadata_values import clean_metadata
from modelog.registry.selectors import LATEST, VersionSelector, parse_selector
from modelog.registry.validation import (
    MAX_HASH_LENGTH,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_NUMBER,
    MAX_TEXT_LENGTH,
    clean_alias,
    clean_label,
    clean_name,
    clean_tags,
    clean_text,
    clean_version_name,
)
from modelog.registry.values import ArtifactKind, DeleteReason, Stage, parse_kind, parse_stage
from modelog.registry.vocabulary import MODEL_TEXT_FIELDS
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

__all__ = [
    "MODEL_TEXT_FIELDS", "Command", "CompleteStep", "CreateVersion", "DeleteModel", "DeleteVersion", "FinishRun",
    "LinkArtifact", "LinkRun", "ModelContext", "OutputSpec", "RegisterModel", "RemoveAlias", "RenameModel", "SetAlias",
    "SetStage", "StartRun", "UpdateModel", "UpdateVersion", "clean_id", "parse_reason",
]


def clean_id(value: object, what: str) -> str:
    """Validate an identifier (run id, artifact id): non-empty text without control characters or slashes."""
    return clean_name(value, what, MAX_ID_LENGTH)


def parse_reason(value: object) -> DeleteReason:
    """Parse a delete reason (user, pipeline_failure)."""
    if isinstance(value, DeleteReason):
        return value
    try:
        return DeleteReason(str(getattr(value, "value", value)).strip().casefold())
    except ValueError:
        choices = ", ".join(r.value for r in DeleteReason)
        raise InvalidInputError(f"unknown delete reason {value!r}; reasons are {choices}") from None


def _clean_model_changes(changes: object) -> dict[str, str | None]:
    """Model text fields by name, each cleaned; refuses a field models do not have."""
    if not isinstance(changes, dict):
        raise InvalidInputError(f"model fields must be given by name, got {type(changes).__name__}")
    unknown = sorted(set(changes) - set(MODEL_TEXT_FIELDS))
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(MODEL_TEXT_FIELDS)}")
    return {k: clean_text(v, k.replace("_", " ")) for k, v in changes.items()}


def _cleaned(clean: Callable[[object, str], str], what: str) -> BeforeValidator:
    return BeforeValidator(lambda value: clean(value, what))


def _label(what: str, limit: int = MAX_LABEL_LENGTH) -> BeforeValidator:
    return BeforeValidator(lambda value: clean_label(value, what, limit))


def _optional_label(what: str, limit: int = MAX_LABEL_LENGTH) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else clean_label(value, what, limit))


def _clipped(limit: int) -> BeforeValidator:
    """Recorded as given but cut to ``limit`` characters (a failure is recorded whatever its message's length)."""
    return BeforeValidator(lambda value: value[:limit] if isinstance(value, str) else value)


def _optional(clean: Callable[[object], str]) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else clean(value))


def _required() -> Any:
    """The default of a text field that must be given: validated, so leaving it out is refused by its validator."""
    return Field(default="", validate_default=True)


def _check_duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"duration must be a finite number of milliseconds >= 0, got {value!r}")
    return float(value)


def _check_artifact_version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
        raise InvalidInputError(f"artifact version must be a whole number from 1 to {MAX_NUMBER}, got {value!r}")
    return value


# Field types: what each raw value is parsed into (after the before-validator, pydantic only checks the type).
ModelName = Annotated[str, _cleaned(clean_name, "model name")]
PipelineName = Annotated[str, _cleaned(clean_name, "pipeline name")]
RunId = Annotated[str, _cleaned(clean_id, "run id")]
VersionName = Annotated[str | None, _optional(clean_version_name)]
Description = Annotated[str | None, BeforeValidator(lambda value: clean_text(value, "description"))]
Tags = Annotated[tuple[str, ...], BeforeValidator(clean_tags)]
Alias = Annotated[str, BeforeValidator(clean_alias)]
ModelChanges = Annotated[dict[str, str | None], BeforeValidator(_clean_model_changes)]
Selector = Annotated[InstanceOf[VersionSelector], BeforeValidator(parse_selector)]
StageValue = Annotated[Stage, BeforeValidator(parse_stage)]
Kind = Annotated[ArtifactKind, BeforeValidator(parse_kind)]
Reason = Annotated[DeleteReason, BeforeValidator(parse_reason)]
ArtifactVersion = Annotated[int, BeforeValidator(_check_artifact_version)]


def _as_invalid_input(error: ValidationError) -> InvalidInputError:
    """The first problem as the registry's own error: the one a validator raised, else pydantic's, reworded."""
    first: ErrorDetails = error.errors()[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, InvalidInputError):
        return raised
    field = ".".join(str(part) for part in first["loc"]) or error.title
    return InvalidInputError(f"{error.title}: {field}: {first['msg']}")


class _ParsedModel(BaseModel):
    """Frozen, validated on construction, refusing unknown fields; errors are InvalidInputError.

    Defaults are trusted as they are, except those marked ``_required()``: an empty text the field's
    validator refuses with its own message ("pipeline must not be empty") when the field is not given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **values: Any) -> None:
        try:  # what BaseModel.__init__ does, one call shorter (commands are built on the hot path)
            self.__pydantic_validator__.validate_python(values, self_instance=self)
        except ValidationError as error:  # converted in this one place; validators raise InvalidInputError
            raise _as_invalid_input(error) from None


if TYPE_CHECKING:
    class _Parsed:
        """What the type checker sees: built by keyword from raw user values, read back as typed attributes.

        Seen as a pydantic model, every field would have to be given already parsed (a ``Stage``,
        not ``"production"``), which is exactly what the validators are there to accept.
        """

        def __init__(self, **values: Any) -> None: ...
else:
    _Parsed = _ParsedModel


class Command(_Parsed):
    """Base class of commands."""


class RegisterModel(Command):
    """Register a new model under a name no live model holds."""

    name: ModelName
    fields: ModelChanges = Field(default_factory=dict)
    tags: Tags = ()
    implicit: bool = False


class UpdateModel(Command):
    """Change some text fields of a model, add tags and remove tags (removing an unknown tag is a no-op)."""

    model: ModelName
    changes: ModelChanges = Field(default_factory=dict)
    add_tags: Tags = ()
    remove_tags: Tags = ()


class DeleteModel(Command):
    """Delete a model (tombstone) and free its name."""

    model: ModelName


class RenameModel(Command):
    """Give a live model a new name: the new name is claimed and the old one released in the same append."""

    model: ModelName
    new_name: ModelName


class CreateVersion(Command):
    """Create the next version of a model."""

    model: ModelName
    name: VersionName = None
    description: Description = None
    tags: Tags = ()


class _VersionCommand(Command):
    """A command addressed to one version of a model."""

    model: ModelName
    version: Selector

    @property
    def selector(self) -> VersionSelector:
        """The parsed version selector (the same as ``version``)."""
        return self.version


class UpdateVersion(_VersionCommand):
    """Rename a version, change its description or its tags."""

    name: VersionName = None
    description: Description = None
    set_description: bool = False
    add_tags: Tags = ()
    remove_tags: Tags = ()


class SetStage(_VersionCommand):
    """Move a version into a stage; ``force`` archives the current holder of staging/production."""

    stage: StageValue = Stage.NONE
    force: bool = False


class SetAlias(_VersionCommand):
    """Point an alias at a version (moving it if another version holds it)."""

    alias: Alias = _required()


class RemoveAlias(Command):
    """Remove an alias from whichever version holds it."""

    model: ModelName
    alias: Alias


class LinkArtifact(_VersionCommand):
    """Link a stored artifact version to a model version."""

    pipeline: Annotated[str, _cleaned(clean_name, "pipeline")] = _required()
    step: Annotated[str, _cleaned(clean_name, "step")] = _required()
    name: Annotated[str, _cleaned(clean_name, "name")] = _required()
    kind: Kind = ArtifactKind.DATA
    artifact_id: Annotated[str, _cleaned(clean_id, "artifact id")] = _required()
    artifact_name: Annotated[str, _cleaned(clean_name, "artifact name")] = _required()
    artifact_version: ArtifactVersion = 1
    content_hash: Annotated[str, _label("content hash", MAX_HASH_LENGTH)] = ""
    run_id: Annotated[str | None, _optional(lambda value: clean_id(value, "run id"))] = None
    overwrite: bool = False

    def link_fields(self) -> dict[str, Any]:
        """The fields of the ArtifactLinked event this command asks for."""
        return {
            "pipeline": self.pipeline, "step": self.step, "name": self.name, "kind": self.kind,
            "artifact_id": self.artifact_id, "artifact_name": self.artifact_name,
            "artifact_version": self.artifact_version, "content_hash": self.content_hash, "run_id": self.run_id,
        }


class LinkRun(_VersionCommand):
    """Link a pipeline run to a model version (idempotent)."""

    run_id: RunId = _required()
    pipeline: PipelineName = _required()


class DeleteVersion(_VersionCommand):
    """Delete a version, with the reason (and the failed run for ``pipeline_failure``)."""

    reason: Reason = DeleteReason.USER
    run_id: Annotated[str | None, _optional(lambda value: clean_id(value, "run id"))] = None

    @model_validator(mode="after")
    def _failure_names_its_run(self) -> DeleteVersion:
        if self.reason is DeleteReason.PIPELINE_FAILURE and not self.run_id:
            raise InvalidInputError("a version deleted for a pipeline failure must name the failed run (run_id)")
        return self


with warnings.catch_warnings():
    # ``register`` is the SDK's keyword; pydantic warns only because its metaclass (an ABCMeta) has a method so named.
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class ModelContext(_Parsed):
        """The model a pipeline run works in: which model, and which version (or a new one)."""

        name: ModelName
        version: Selector = LATEST
        create_new_version: bool = False
        version_name: VersionName = None
        version_description: Description = None
        register: RegisterModel | None = None


class StartRun(Command):
    """Start a pipeline run, creating or resolving its model version and linking the run to it."""

    run_id: RunId
    pipeline: PipelineName
    model: ModelContext | None = None
    enable_cache: bool = False


class OutputSpec(_Parsed):
    """One step output to record and how it links to the model version.

    With ``artifact_id`` set the output reuses an existing artifact version (a cached
    step); otherwise a new version of ``artifact_name`` (by default the output's name) is stored.
    """

    name: Annotated[str, _cleaned(clean_name, "output name")]
    uri: Annotated[str, _label("uri", MAX_TEXT_LENGTH)]
    content_hash: Annotated[str, _label("content hash", MAX_HASH_LENGTH)]
    data_type: Annotated[str, _label("data type")]
    materializer: Annotated[str, _label("materializer")]
    artifact_name: str = Field(default="", validate_default=True)  # by default the output's name
    kind: Annotated[ArtifactKind | None, _optional(parse_kind)] = ArtifactKind.DATA
    overwrite: bool = False
    artifact_id: Annotated[str | None, _optional(lambda value: clean_id(value, "artifact id"))] = None
    artifact_version: Annotated[int | None, _optional(_check_artifact_version)] = None

    @field_validator("artifact_name", mode="before")
    @classmethod
    def _artifact_name(cls, value: object, info: ValidationInfo) -> str:
        return clean_name(value or info.data.get("name", value), "artifact name")


class CompleteStep(Command):
    """Record a finished step: store its artifact versions, link them, mark the step completed."""

    run_id: str
    step: Annotated[str, _cleaned(clean_name, "step name")]
    outputs: tuple[OutputSpec, ...] = ()
    cached: bool = False
    cache_key: Annotated[str | None, _optional_label("cache key", MAX_HASH_LENGTH)] = None
    duration_ms: Annotated[float, BeforeValidator(_check_duration)] = 0.0


class FinishRun(Command):
    """End a run: completed, or failed with the error (deleting the version it created, if asked)."""

    run_id: str
    error_type: Annotated[str | None, _clipped(MAX_LABEL_LENGTH)] = None
    error_message: Annotated[str | None, _clipped(MAX_TEXT_LENGTH)] = None
    failed_step: Annotated[str | None, _clipped(MAX_LABEL_LENGTH)] = None
    delete_created_version: bool = False
    duration_ms: Annotated[float, BeforeValidator(_check_duration)] = 0.0


class LogVersionMetadata(_VersionCommand):
    """Log metadata on a version: numbers, texts, booleans, lists and objects (see :mod:`registry.metadata_values`)."""

    values: Annotated[dict[str, Any], BeforeValidator(clean_metadata)]
