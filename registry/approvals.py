"""Four-eyes approval of stage changes: requests in a model's stream, decided on the Model aggregate's state.

A move into a protected stage (see :mod:`registry.governance`) is recorded as a
``StageChangeRequested`` (numbered per model: request 1, 2, ...) carrying the approvals it needs,
its expiry and the requester. Principals other than the requester approve it
(``StageChangeApproved``); the approval that completes the count also moves the version, with the
force the request asked for, in the same command. A request may be rejected (or withdrawn by its
requester) until then. At most one request per version and stage is pending at a time; an expired
or decided one can no longer be approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelog.registry import events as ev
from modelog.registry.errors import ConflictError, NotFoundError, PermissionDeniedError
from modelog.registry.validation import name_key
from modelog.registry.values import Stage

if TYPE_CHECKING:
    from modelog.registry.aggregates import ModelState, VersionState

PENDING, APPROVED, REJECTED, EXPIRED = "pending", "approved", "rejected", "expired"


@dataclass
class RequestState:
    """One stage change request of a model."""

    request: int
    number: int
    stage: Stage
    force: bool
    requested_by: str
    expires_at: str
    approvals: int
    approved_by: list[str] = field(default_factory=list)
    rejected_by: str | None = None

    def status(self, now: str) -> str:
        """``approved``, ``rejected``, ``expired`` (at ``now``, log time text) or ``pending``."""
        if len(self.approved_by) >= self.approvals:
            return APPROVED
        if self.rejected_by is not None:
            return REJECTED
        return EXPIRED if self.expires_at <= now else PENDING


def pending_request(model: ModelState, number: int, stage: Stage | None, now: str) -> RequestState | None:
    """The pending request to move version ``number`` (into ``stage``, or any stage), if there is one."""
    return next((r for r in reversed(model.requests.values())
                 if r.number == number and (stage is None or r.stage == stage) and r.status(now) == PENDING), None)


def decide_request(model: ModelState, target: VersionState, stage: Stage, force: bool, by: str, expires_at: str,
                   approvals: int, now: str) -> list[ev.Event]:
    """Request moving ``target`` into the protected ``stage``; refused when it is not protected, the version is
    there already, or a request for it is pending."""
    model.require_live()
    if approvals <= 0:
        raise ConflictError(f"{stage.value} of model {model.name!r} is not protected: move the version with "
                            f"'modelog model version update {model.name} {target.number} --stage {stage.value}'")
    if target.stage == stage:
        raise ConflictError(f"version {target.label()} of model {model.name!r} is already in {stage.value}")
    found = pending_request(model, target.number, stage, now)
    if found is not None:
        raise ConflictError(f"request {found.request} to move version {target.label()} into {stage.value} is "
                            f"pending already (until {found.expires_at}): approve or reject it")
    return [ev.StageChangeRequested(request=len(model.requests) + 1, number=target.number, stage=stage, force=force,
                                    requested_by=by, expires_at=expires_at, approvals=approvals)]


def find_request(model: ModelState, target: VersionState, stage: Stage | None, now: str) -> RequestState:
    """The pending request of ``target`` (into ``stage`` if given); why there is none otherwise."""
    found = pending_request(model, target.number, stage, now)
    if found is not None:
        return found
    into = f" into {stage.value}" if stage is not None else ""
    last = next((r for r in reversed(model.requests.values())
                 if r.number == target.number and (stage is None or r.stage == stage)), None)
    if last is None:
        raise NotFoundError(f"version {target.label()} of model {model.name!r} has no request to move it{into} "
                            f"(see 'modelog model version requests {model.name}')")
    status = last.status(now)
    detail = f"expired at {last.expires_at}" if status == EXPIRED else \
        f"was rejected by {last.rejected_by!r}" if status == REJECTED else "is approved already"
    raise ConflictError(f"request {last.request} to move version {target.label()} of model {model.name!r} into "
                        f"{last.stage.value} {detail}; nothing is pending")


def decide_approval(model: ModelState, target: VersionState, request: RequestState, by: str) -> list[ev.Event]:
    """Approve ``request`` as ``by``; the approval completing the count moves the version too (its force as
    requested). The requester never approves their own request, nor anyone twice."""
    if name_key(by) == name_key(request.requested_by):
        raise PermissionDeniedError(f"{by!r} requested this change (request {request.request}) and cannot approve "
                                    "it: another principal with maintainer on the model must (four eyes)")
    if any(name_key(by) == name_key(done) for done in request.approved_by):
        raise ConflictError(f"{by!r} has approved request {request.request} already; it needs "
                            f"{request.approvals - len(request.approved_by)} more approval(s) from others")
    approved: list[ev.Event] = [ev.StageChangeApproved(request=request.request, number=request.number,
                                                       stage=request.stage, approved_by=by)]
    if len(request.approved_by) + 1 < request.approvals:
        return approved
    try:
        return approved + model.set_stage(target, request.stage, request.force)
    except ConflictError as error:
        raise ConflictError(f"{error} (request {request.request} did not ask for force: reject it and request "
                            "the change again with force)") from None


def decide_rejection(request: RequestState, by: str, reason: str | None) -> list[ev.Event]:
    """Reject (or, by its requester, withdraw) a pending request."""
    return [ev.StageChangeRejected(request=request.request, number=request.number, stage=request.stage,
                                   rejected_by=by, reason=reason)]


def on_requested(model: ModelState, event: ev.StageChangeRequested) -> None:
    """Apply a request to the model's state."""
    model.requests[event.request] = RequestState(event.request, event.number, event.stage, event.force,
                                                 event.requested_by, event.expires_at, event.approvals)


def on_approved(model: ModelState, event: ev.StageChangeApproved) -> None:
    """Apply an approval (KeyError: no such request)."""
    model.requests[event.request].approved_by.append(event.approved_by)


def on_rejected(model: ModelState, event: ev.StageChangeRejected) -> None:
    """Apply a rejection (KeyError: no such request)."""
    model.requests[event.request].rejected_by = event.rejected_by
