"""The registry's domain words, each spelled once: stream ids, event-type names and model text fields.

The enumerated *values* a field can take (stages, artifact kinds, delete reasons, run statuses)
live next to their parsers in :mod:`registry.values`; this module names *things*: which stream
an event belongs to, which event it is, which text fields a model has. Kept free of pydantic and
SQLAlchemy: the read side and the CLI import it too.
"""

from __future__ import annotations

from enum import StrEnum

from modelog.registry.validation import name_key


class StreamKind(StrEnum):
    """The kinds of stream in the log; a stream id is ``<kind>-<key>``."""

    NAME = "name"
    MODEL = "model"
    RUN = "run"
    ARTIFACT = "artifact"
    PRINCIPAL = "principal"
    TOKEN = "token"
    POLICY = "policy"

    @property
    def prefix(self) -> str:
        """What every stream id of this kind starts with (``model-``)."""
        return f"{self.value}-"


MODEL_PREFIX = StreamKind.MODEL.prefix
RUN_PREFIX = StreamKind.RUN.prefix
NAME_PREFIX = StreamKind.NAME.prefix
ARTIFACT_PREFIX = StreamKind.ARTIFACT.prefix
_MODEL_PREFIX_LENGTH = len(MODEL_PREFIX)
_RUN_PREFIX_LENGTH = len(RUN_PREFIX)


def model_stream(model_id: str) -> str:
    """Stream id of a model."""
    return MODEL_PREFIX + model_id


def model_id_of(stream_id: str) -> str:
    """The model id of a model stream id (the caller knows it is one: no check, it is on the replay path)."""
    return stream_id[_MODEL_PREFIX_LENGTH:]


def run_stream(run_id: str) -> str:
    """Stream id of a pipeline run."""
    return RUN_PREFIX + run_id


def run_id_of(stream_id: str) -> str:
    """The run id of a run stream id (the caller knows it is one)."""
    return stream_id[_RUN_PREFIX_LENGTH:]


def name_stream(name: str) -> str:
    """Stream id of the claim on a model name (by the name's uniqueness key)."""
    return NAME_PREFIX + name_key(name)


def artifact_stream(name: str) -> str:
    """Stream id of a named artifact's versions (by the name's uniqueness key)."""
    return ARTIFACT_PREFIX + name_key(name)


PRINCIPAL_PREFIX = StreamKind.PRINCIPAL.prefix
TOKEN_PREFIX = StreamKind.TOKEN.prefix


def principal_stream(name: str) -> str:
    """Stream id of a principal (by the name's uniqueness key): who may use API tokens."""
    return PRINCIPAL_PREFIX + name_key(name)


def token_stream(token_id: str) -> str:
    """Stream id of one API token (by its public id, never by its secret)."""
    return TOKEN_PREFIX + token_id


POLICY_PREFIX = StreamKind.POLICY.prefix
#: The one stream of stage policies (registry-wide and per model): how many approvals a stage needs.
POLICY_STREAM = POLICY_PREFIX + "stages"


#: A model's free-text fields, in the order events, rows and views list them.
MODEL_TEXT_FIELDS = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")


class EventType(StrEnum):
    """The name of every event type; each is the name of its class in :mod:`registry.events`.

    The event classes check their names against this on definition, and a test checks that
    every member has a class and a schema version in :mod:`registry.catalog`.
    """

    MODEL_NAME_CLAIMED = "ModelNameClaimed"
    MODEL_NAME_RELEASED = "ModelNameReleased"
    MODEL_REGISTERED = "ModelRegistered"
    MODEL_UPDATED = "ModelUpdated"
    MODEL_DELETED = "ModelDeleted"
    MODEL_RENAMED = "ModelRenamed"
    MODEL_VERSION_CREATED = "ModelVersionCreated"
    MODEL_VERSION_UPDATED = "ModelVersionUpdated"
    MODEL_VERSION_STAGE_CHANGED = "ModelVersionStageChanged"
    MODEL_VERSION_ALIAS_SET = "ModelVersionAliasSet"
    MODEL_VERSION_ALIAS_REMOVED = "ModelVersionAliasRemoved"
    MODEL_VERSION_DELETED = "ModelVersionDeleted"
    ARTIFACT_LINKED = "ArtifactLinked"
    ARTIFACT_UNLINKED = "ArtifactUnlinked"
    PIPELINE_RUN_LINKED = "PipelineRunLinked"
    PIPELINE_RUN_STARTED = "PipelineRunStarted"
    PIPELINE_STEP_COMPLETED = "PipelineStepCompleted"
    PIPELINE_RUN_COMPLETED = "PipelineRunCompleted"
    PIPELINE_RUN_FAILED = "PipelineRunFailed"
    ARTIFACT_VERSION_STORED = "ArtifactVersionStored"
    MODEL_VERSION_METADATA_LOGGED = "ModelVersionMetadataLogged"
    PRINCIPAL_ADDED = "PrincipalAdded"
    PRINCIPAL_DISABLED = "PrincipalDisabled"
    TOKEN_CREATED = "TokenCreated"
    TOKEN_REVOKED = "TokenRevoked"
    ROLE_GRANTED = "RoleGranted"
    ROLE_REVOKED = "RoleRevoked"
    STAGE_POLICY_SET = "StagePolicySet"
    STAGE_CHANGE_REQUESTED = "StageChangeRequested"
    STAGE_CHANGE_APPROVED = "StageChangeApproved"
    STAGE_CHANGE_REJECTED = "StageChangeRejected"
