"""Who may do what, in the log: role grants, stage policies and the stage change requests they call for.

Roles are granted and revoked on the principal's stream (``RoleGranted`` / ``RoleRevoked``),
registry-wide or on one model (by its id: a model deleted and registered again under the same
name does not inherit the old model's grants). Stage policies live in one stream
(``policy-stages``): how many approvals a move into staging or production needs, registry-wide or
per model (a model's own policy, even 0, overrides the registry-wide one). A protected stage is
entered only through a request and its approvals (:mod:`registry.approvals`); the command layer
refuses a direct move. Deciding *whether the caller may* run any of this is the application
layer's (:mod:`modelog.application.permissions`); these handlers decide only what the log allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from modelog.registry import approvals
from modelog.registry import events as ev
from modelog.registry.aggregates import Aggregate, ModelState, NameClaim
from modelog.registry.commands import Command, ModelName, Selector
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError
from modelog.registry.identity import PrincipalName, PrincipalState
from modelog.registry.outcomes import Outcome, PolicyChanged, RoleChanged, StageChanged, StageRequestChanged
from modelog.registry.recorder import TIME_FORMAT
from modelog.registry.unit_of_work import UnitOfWork
from modelog.registry.validation import clean_actor, clean_text
from modelog.registry.values import EXCLUSIVE_STAGES, Role, Stage, parse_role
from modelog.registry.vocabulary import POLICY_STREAM, model_stream, name_stream, principal_stream
from pydantic import BeforeValidator

#: The most approvals a policy may ask for.
MAX_APPROVALS = 10


def _check_approvals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_APPROVALS:
        raise InvalidInputError(f"approvals must be a whole number from 0 to {MAX_APPROVALS}, got {value!r}")
    return value


def _protectable(value: object) -> Stage:
    from modelog.registry.values import parse_stage

    stage = parse_stage(value)
    if stage not in EXCLUSIVE_STAGES:
        raise InvalidInputError(f"only staging and production can be protected, not {stage.value}")
    return stage


RoleValue = Annotated[Role, BeforeValidator(parse_role)]
Approvals = Annotated[int, BeforeValidator(_check_approvals)]
ProtectedStage = Annotated[Stage, BeforeValidator(_protectable)]
Actor = Annotated[str, BeforeValidator(lambda value: clean_actor(str(value)))]
Reason = Annotated[str | None, BeforeValidator(lambda value: clean_text(value, "reason"))]


class GrantRole(Command):
    """Grant a principal a role, registry-wide or on one model."""

    name: PrincipalName
    role: RoleValue
    model: ModelName | None = None


class RevokeRole(Command):
    """Revoke a role a principal holds in that scope."""

    name: PrincipalName
    role: RoleValue
    model: ModelName | None = None


class SetStagePolicy(Command):
    """Require ``approvals`` approvals for moves into ``stage`` (0: none), registry-wide or on one model."""

    stage: ProtectedStage
    approvals: Approvals
    model: ModelName | None = None


class RequestStageChange(Command):
    """Ask to move a version into a protected stage (``by``: the requester, as the events record the actor)."""

    model: ModelName
    version: Selector
    stage: ProtectedStage
    force: bool = False
    expires_at: str
    by: Actor


class ApproveStageChange(Command):
    """Approve the pending request of a version (into ``stage``, or its only pending one)."""

    model: ModelName
    version: Selector
    stage: ProtectedStage | None = None
    by: Actor


class RejectStageChange(Command):
    """Reject (or withdraw) the pending request of a version."""

    model: ModelName
    version: Selector
    stage: ProtectedStage | None = None
    reason: Reason = None
    by: Actor


@dataclass
class PolicyState(Aggregate):
    """The stage policies: approvals needed per (model id or None for registry-wide, stage)."""

    approvals: dict[tuple[str | None, str], int] = field(default_factory=dict)
    version: int = 0

    def required(self, model_id: str, stage: Stage) -> int:
        """Approvals a move of model ``model_id`` into ``stage`` needs (0: unprotected)."""
        own = self.approvals.get((model_id, stage.value))
        return own if own is not None else self.approvals.get((None, stage.value), 0)

    def _on_StagePolicySet(self, event: ev.StagePolicySet) -> None:
        self.approvals[(event.model_id, event.stage.value)] = event.approvals


def now_text() -> str:
    """This moment as log time text (what request expiries are compared with)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def live_model(uow: UnitOfWork, name: str) -> ModelState:
    """The live model holding ``name`` (NotFoundError otherwise)."""
    claim = uow.load(NameClaim, name_stream(name))
    if claim.holder is None:
        raise NotFoundError(f"model {name!r} does not exist")
    return uow.load(ModelState, model_stream(claim.holder))


def _role_change(uow: UnitOfWork, command: GrantRole | RevokeRole, granted: bool) -> Outcome:
    stream = principal_stream(command.name)
    principal = uow.load(PrincipalState, stream)
    principal.require(command.name)
    model = live_model(uow, command.model) if command.model is not None else None
    model_id, model_name = (model.model_id, model.name) if model is not None else (None, None)
    held = (command.role.value, model_id) in principal.roles
    scope = f" on model {model_name!r}" if model_name else " registry-wide"
    if granted:
        new: list[ev.Event] = [] if held else [ev.RoleGranted(name=principal.name, role=command.role,
                                                              model_id=model_id, model=model_name)]
    else:
        if not held:
            raise ConflictError(f"principal {principal.name!r} does not hold {command.role.value}{scope} "
                                f"(see 'modelog principal show {principal.name}')")
        new = [ev.RoleRevoked(name=principal.name, role=command.role, model_id=model_id, model=model_name)]
    uow.record(stream, principal, new)
    return RoleChanged(name=principal.name, role=command.role.value, model=model_name, granted=granted,
                       changed=bool(new))


def _grant_role(uow: UnitOfWork, command: GrantRole) -> Outcome:
    return _role_change(uow, command, True)


def _revoke_role(uow: UnitOfWork, command: RevokeRole) -> Outcome:
    return _role_change(uow, command, False)


def _set_stage_policy(uow: UnitOfWork, command: SetStagePolicy) -> Outcome:
    policy = uow.load(PolicyState, POLICY_STREAM)
    model = live_model(uow, command.model) if command.model is not None else None
    model_id, model_name = (model.model_id, model.name) if model is not None else (None, None)
    same = policy.approvals.get((model_id, command.stage.value)) == command.approvals
    new: list[ev.Event] = [] if same else [ev.StagePolicySet(stage=command.stage, approvals=command.approvals,
                                                             model_id=model_id, model=model_name)]
    uow.record(POLICY_STREAM, policy, new)
    return PolicyChanged(stage=command.stage.value, approvals=command.approvals, model=model_name, changed=bool(new))


def required_approvals(uow: UnitOfWork, model: ModelState, stage: Stage) -> int:
    """How many approvals moving a version of ``model`` into ``stage`` needs now."""
    return uow.load(PolicyState, POLICY_STREAM).required(model.model_id, stage)


def _outcome(model: ModelState, request: approvals.RequestState, now: str,
             moved: StageChanged | None = None) -> StageRequestChanged:
    return StageRequestChanged(model_id=model.model_id, model_name=model.name, request=request.request,
                               number=request.number, stage=request.stage.value, status=request.status(now),
                               requested_by=request.requested_by, expires_at=request.expires_at,
                               approvals=request.approvals, approved_by=tuple(request.approved_by),
                               stage_change=moved)


def _request(uow: UnitOfWork, command: RequestStageChange) -> Outcome:
    model = live_model(uow, command.model)
    target, now = model.resolve(command.version), now_text()
    if command.expires_at <= now:
        raise InvalidInputError("the request would expire at once: give a later expiry")
    new = approvals.decide_request(model, target, command.stage, command.force, command.by, command.expires_at,
                                   required_approvals(uow, model, command.stage), now)
    uow.record(model_stream(model.model_id), model, new)
    return _outcome(model, model.requests[len(model.requests)], now)


def _approve(uow: UnitOfWork, command: ApproveStageChange) -> Outcome:
    model = live_model(uow, command.model)
    target, now = model.resolve(command.version), now_text()
    request = approvals.find_request(model, target, command.stage, now)
    new = approvals.decide_approval(model, target, request, command.by)
    moves = [e for e in new if isinstance(e, ev.ModelVersionStageChanged)]
    completed = len(request.approved_by) + 1 >= request.approvals
    uow.record(model_stream(model.model_id), model, new)
    moved = StageChanged(model_id=model.model_id, model_name=model.name, number=target.number,
                         stage=request.stage.value, moved=bool(moves), forced=request.force,
                         archived=tuple(e.number for e in moves if e.number != target.number)) if completed else None
    return _outcome(model, request, now, moved)


def _reject(uow: UnitOfWork, command: RejectStageChange) -> Outcome:
    model = live_model(uow, command.model)
    target, now = model.resolve(command.version), now_text()
    request = approvals.find_request(model, target, command.stage, now)
    uow.record(model_stream(model.model_id), model, approvals.decide_rejection(request, command.by, command.reason))
    return _outcome(model, request, now)


#: The governance commands and the handler deciding each (registered by the command service).
HANDLERS: dict[type[Command], Callable[[UnitOfWork, Any], Outcome]] = {
    GrantRole: _grant_role,
    RevokeRole: _revoke_role,
    SetStagePolicy: _set_stage_policy,
    RequestStageChange: _request,
    ApproveStageChange: _approve,
    RejectStageChange: _reject,
}
