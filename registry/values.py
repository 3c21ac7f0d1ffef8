"""Small value types shared by the write and read sides (no heavy imports)."""

from __future__ import annotations

from enum import StrEnum

from modelog.registry.errors import InvalidInputError


class Stage(StrEnum):
    """Lifecycle stages a model version can be in (``latest`` is a selector, not a stage)."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


#: Stages at most one live version of a model may hold at a time.
EXCLUSIVE_STAGES = frozenset({Stage.STAGING, Stage.PRODUCTION})


class ArtifactKind(StrEnum):
    """What a linked artifact is to a model version."""

    DATA = "data"
    MODEL = "model"
    DEPLOYMENT = "deployment"


class RunStatus(StrEnum):
    """Where a pipeline run is: running until it completes or fails (``unknown``: no such run was started)."""

    UNKNOWN = "unknown"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


#: The artifact kinds as an error message lists them ("data, model, deployment").
ARTIFACT_KIND_NAMES = ", ".join(k.value for k in ArtifactKind)


class DeleteReason(StrEnum):
    """Why a model version was deleted."""

    USER = "user"
    PIPELINE_FAILURE = "pipeline_failure"


class Role(StrEnum):
    """What a principal may do; each role includes every lower one (viewer < contributor < maintainer < admin)."""

    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    MAINTAINER = "maintainer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """The role's place in the order (viewer 1 ... admin 4)."""
        return _ROLE_RANKS[self]

    def includes(self, other: Role) -> bool:
        """True when holding this role grants ``other`` too."""
        return self.rank >= other.rank


_ROLE_RANKS = {Role.VIEWER: 1, Role.CONTRIBUTOR: 2, Role.MAINTAINER: 3, Role.ADMIN: 4}


def parse_role(value: object) -> Role:
    """Parse a role given as a :class:`Role` member or its (case-insensitive) value."""
    if isinstance(value, Role):
        return value
    text = str(getattr(value, "value", value)).strip().casefold()
    try:
        return Role(text)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"unknown role {value!r}; roles are {names}") from None


def parse_stage(value: object) -> Stage:
    """Parse a stage given as a :class:`Stage` member or its (case-insensitive) value."""
    if isinstance(value, Stage):
        return value
    text = str(getattr(value, "value", value)).strip().casefold()
    try:
        return Stage(text)
    except ValueError:
        names = ", ".join(s.value for s in Stage)
        raise InvalidInputError(f"unknown stage {value!r}; stages are {names}") from None


def parse_kind(value: object) -> ArtifactKind:
    """Parse an artifact kind (data, model, deployment)."""
    if isinstance(value, ArtifactKind):
        return value
    try:
        return ArtifactKind(str(getattr(value, "value", value)).casefold())
    except ValueError:
        raise InvalidInputError(f"unknown artifact kind {value!r}; kinds are {ARTIFACT_KIND_NAMES}") from None
