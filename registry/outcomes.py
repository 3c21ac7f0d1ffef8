"""What a command did: one frozen, typed outcome per command kind (never a dict read by string key).

Every outcome carries the events the command appended (empty when it changed nothing); the
fields say, in the domain's words, what changed. The application layer returns these to
every adapter unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: adapters read outcomes without loading the event classes
    from modelog.registry.events import StepOutput
    from modelog.registry.store import StoredEvent


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """Base of every command outcome: the events the command appended, in log order."""

    events: tuple[StoredEvent, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the command appended at least one event."""
        return bool(self.events)

    @property
    def last_position(self) -> int | None:
        """The log position of the command's last event (None when it appended nothing)."""
        return self.events[-1].position if self.events else None


@dataclass(frozen=True, kw_only=True)
class ModelChanged(Outcome):
    """A model was registered, updated or deleted."""

    model_id: str
    model_name: str


@dataclass(frozen=True, kw_only=True)
class VersionChanged(Outcome):
    """A version was created, updated, deleted or had a run linked to it."""

    model_id: str
    model_name: str
    number: int


@dataclass(frozen=True, kw_only=True)
class StageChanged(Outcome):
    """A version is in ``stage`` (``moved`` False: it was there already; ``archived``: versions displaced)."""

    model_id: str
    model_name: str
    number: int
    stage: str
    moved: bool = True
    archived: tuple[int, ...] = ()
    forced: bool = False


@dataclass(frozen=True, kw_only=True)
class AliasMoved(Outcome):
    """An alias now points at ``to_version`` (``from_version``: the version it was taken from, if any)."""

    model_id: str
    model_name: str
    alias: str
    to_version: int
    from_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class AliasRemoved(Outcome):
    """An alias was removed from ``from_version``."""

    model_id: str
    model_name: str
    alias: str
    from_version: int


@dataclass(frozen=True, kw_only=True)
class ArtifactLinkRecorded(Outcome):
    """An artifact version was linked to a version (``link_version`` None: the same link existed already)."""

    model_id: str
    model_name: str
    number: int
    link_version: int | None


@dataclass(frozen=True, kw_only=True)
class RunStarted(Outcome):
    """A pipeline run started, in the model version it resolved or created (if it has a model context)."""

    run_id: str
    model_id: str | None = None
    model_name: str | None = None
    number: int | None = None
    created_version: bool = False


@dataclass(frozen=True, kw_only=True)
class StepRecorded(Outcome):
    """A step completed: the artifact versions it stored or reused, in output order."""

    run_id: str
    step: str
    outputs: tuple[StepOutput, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RunFinished(Outcome):
    """A run completed or failed (``deleted_version``: the version its failure deleted, if any)."""

    run_id: str
    status: str
    deleted_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class Batch(Outcome):
    """Several commands applied together, all or nothing: each one's own outcome, in order."""

    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class PrincipalChanged(Outcome):
    """A principal was added or disabled (``disabled``: its state now)."""

    name: str
    disabled: bool = False


@dataclass(frozen=True, kw_only=True)
class TokenChanged(Outcome):
    """An API token was issued or revoked. ``token`` is the secret itself, present only in the answer to its
    creation (it is never recorded: the log keeps its SHA-256)."""

    token_id: str
    principal: str
    expires_at: str | None = None
    revoked: bool = False
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class RoleChanged(Outcome):
    """A role was granted or revoked (``changed`` False: the principal already held it, nothing was recorded)."""

    name: str
    role: str
    model: str | None = None
    granted: bool = True
    changed: bool = True


@dataclass(frozen=True, kw_only=True)
class PolicyChanged(Outcome):
    """A stage policy was set (``changed`` False: it already said so)."""

    stage: str
    approvals: int
    model: str | None = None
    changed: bool = True


@dataclass(frozen=True, kw_only=True)
class StageRequestChanged(Outcome):
    """A stage change was requested, approved or rejected. ``status``: pending, approved (the version moved, or
    was already there: ``stage_change``), rejected; ``approved_by`` so far, of ``approvals`` needed."""

    model_id: str
    model_name: str
    request: int
    number: int
    stage: str
    status: str
    requested_by: str
    expires_at: str
    approvals: int
    approved_by: tuple[str, ...] = ()
    stage_change: StageChanged | None = None
