"""Domain events: frozen, past-tense, typed records of everything that happened.

Every event class's schema version comes from :mod:`registry.catalog`, the single
source of truth shared with the read side.
"""

from __future__ import annotations

from typing import Any, ClassVar

from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.errors import EventSchemaError
from modelog.registry.values import ArtifactKind, DeleteReason, Role, Stage
from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base of all domain events: immutable, validated, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    schema_version: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = cls.__name__
        cls.schema_version = CURRENT_SCHEMA[cls.__name__]
        EVENT_CLASSES[cls.__name__] = cls

    def to_data(self) -> dict[str, Any]:
        """The event's payload as JSON-compatible data."""
        return self.model_dump(mode="json")


EVENT_CLASSES: dict[str, type[Event]] = {}


def decode_event(event_type: str, schema_version: int, data: dict[str, Any]) -> Event:
    """Build the typed event from stored data, upcasting older schema versions."""
    current = upcast(event_type, schema_version, data)
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        raise EventSchemaError(f"event type {event_type!r} has no class")
    return cls.model_validate(current)


# --- name claims (stream "name-<key>") -------------------------------------------------


class ModelNameClaimed(Event):
    """A live model took a name; no other live model may use it."""

    name: str
    model_id: str


class ModelNameReleased(Event):
    """The model holding a name was deleted or renamed; the name is free again."""

    name: str
    model_id: str


# --- models (stream "model-<id>") ------------------------------------------------------


class ModelRegistered(Event):
    """A model was registered, explicitly or implicitly by a pipeline."""

    model_id: str
    name: str
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    tags: tuple[str, ...] = ()
    implicit: bool = False


class ModelUpdated(Event):
    """Some of a model's text fields or tags changed."""

    changes: dict[str, str | None] = {}
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()


class ModelDeleted(Event):
    """The model was deleted (a tombstone: its history stays readable)."""

    name: str


class ModelRenamed(Event):
    """The model took a new name; its id, versions, aliases, grants and history stay its own."""

    old_name: str
    new_name: str


class ModelVersionCreated(Event):
    """A new version was allocated; numbers are never reused."""

    number: int
    name: str
    description: str | None = None
    tags: tuple[str, ...] = ()


class ModelVersionUpdated(Event):
    """A version's name, description or tags changed."""

    number: int
    changes: dict[str, str | None] = {}
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()


class ModelVersionStageChanged(Event):
    """A version moved from one stage to another."""

    number: int
    from_stage: Stage
    to_stage: Stage
    forced: bool = False
    displaced_by: int | None = None


class ModelVersionAliasSet(Event):
    """An alias now points at a version (``previous_number`` is where it was before)."""

    alias: str
    number: int
    previous_number: int | None = None


class ModelVersionAliasRemoved(Event):
    """An alias was removed from a version."""

    alias: str
    number: int


class ModelVersionDeleted(Event):
    """A version was deleted, by a user or because its creating pipeline failed."""

    number: int
    reason: DeleteReason
    run_id: str | None = None


class ArtifactLinked(Event):
    """An artifact version was linked to a model version under a link key."""

    number: int
    pipeline: str
    step: str
    name: str
    kind: ArtifactKind
    link_version: int
    artifact_id: str
    artifact_name: str
    artifact_version: int
    content_hash: str
    run_id: str | None = None


class ArtifactUnlinked(Event):
    """Every link version under a link key was removed (``overwrite``)."""

    number: int
    pipeline: str
    step: str
    name: str
    kind: ArtifactKind


class PipelineRunLinked(Event):
    """A pipeline run was linked to a model version."""

    number: int
    run_id: str
    pipeline: str


# --- pipeline runs (stream "run-<id>") -------------------------------------------------


class PipelineRunStarted(Event):
    """A pipeline run began, possibly in the context of a model version."""

    run_id: str
    pipeline: str
    model_id: str | None = None
    model_name: str | None = None
    version_number: int | None = None
    created_version: bool = False
    enable_cache: bool = False


class StepOutput(BaseModel):
    """One output of a completed step: which artifact version it stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    artifact_id: str
    artifact_name: str
    artifact_version: int
    content_hash: str


class PipelineStepCompleted(Event):
    """A step finished (or was served from cache) and stored its outputs."""

    step: str
    outputs: tuple[StepOutput, ...] = ()
    cached: bool = False
    cache_key: str | None = None
    duration_ms: float = 0.0


class PipelineRunCompleted(Event):
    """The run finished successfully."""

    duration_ms: float = 0.0


class PipelineRunFailed(Event):
    """The run failed; the error is recorded."""

    step: str | None = None
    error_type: str
    error_message: str


# --- artifacts (stream "artifact-<key>") -----------------------------------------------


class ArtifactVersionStored(Event):
    """A new version of a named artifact was written to the artifact store."""

    artifact_id: str
    name: str
    version: int
    uri: str
    content_hash: str
    data_type: str
    materializer: str
    run_id: str | None = None
    step: str | None = None


# --- version metadata (stream "model-<id>") --------------------------------------------


class ModelVersionMetadataLogged(Event):
    """Metadata (metrics, parameters, notes) was logged on a version; a key logged again keeps every value."""

    number: int
    values: dict[str, Any]


# --- identity (streams "principal-<key>" and "token-<id>") ------------------------------


class PrincipalAdded(Event):
    """A principal (a person or a pipeline's identity) may now be given API tokens."""

    name: str


class PrincipalDisabled(Event):
    """The principal may no longer authenticate: its tokens are refused, no new ones are issued."""

    name: str


class TokenCreated(Event):
    """An API token was issued to a principal; only its SHA-256 is recorded, never the token itself."""

    token_id: str
    principal: str
    token_sha256: str
    expires_at: str | None = None


class TokenRevoked(Event):
    """The token is refused from now on."""

    token_id: str
    principal: str


# --- roles (stream "principal-<key>") and stage policies (stream "policy-stages") -------------


class RoleGranted(Event):
    """A principal now holds ``role``, registry-wide (``model_id`` None) or on one model."""

    name: str
    role: Role
    model_id: str | None = None
    model: str | None = None


class RoleRevoked(Event):
    """A principal no longer holds ``role`` in that scope (registry-wide, or on one model)."""

    name: str
    role: Role
    model_id: str | None = None
    model: str | None = None


class StagePolicySet(Event):
    """Moving a version into ``stage`` now needs ``approvals`` approvals (0: unprotected), registry-wide or on one
    model (a model's own policy overrides the registry-wide one)."""

    stage: Stage
    approvals: int
    model_id: str | None = None
    model: str | None = None


# --- stage change requests (stream "model-<id>") ----------------------------------------


class StageChangeRequested(Event):
    """Someone asked to move a version into a protected stage; it moves once ``approvals`` others approve."""

    request: int
    number: int
    stage: Stage
    force: bool = False
    requested_by: str
    expires_at: str
    approvals: int


class StageChangeApproved(Event):
    """A principal other than the requester approved the request."""

    request: int
    number: int
    stage: Stage
    approved_by: str


class StageChangeRejected(Event):
    """The request was rejected (or withdrawn by its requester); it can no longer be approved."""

    request: int
    number: int
    stage: Stage
    rejected_by: str
    reason: str | None = None
