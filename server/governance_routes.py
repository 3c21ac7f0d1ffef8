"""The JSON API's routes for roles, stage policies and four-eyes stage change requests (under ``/api/v1``).

Each calls one use case of the service API; the permission check is the application layer's
(the request scope's registry refuses with 403 what the principal's roles do not allow).
"""

from __future__ import annotations

from modelog.server.http import Body, answer, paged, point, query_int
from modelog.server.state import state_of
from starlette.requests import Request
from starlette.responses import Response


def _p(request: Request, name: str) -> str:
    return str(request.path_params[name])


async def grant_role(r: Request, b: Body) -> Response:
    """Grant a role."""
    s = state_of(r)
    return answer(await s.call(s.api.grant_role, _p(r, "name"), b.text("role"), model=b.opt_text("model")))


async def revoke_role(r: Request, b: Body) -> Response:
    """Revoke a role."""
    s = state_of(r)
    return answer(await s.call(s.api.revoke_role, _p(r, "name"), b.text("role"), model=b.opt_text("model")))


async def describe_principal(r: Request) -> Response:
    """A principal, its roles and tokens."""
    s = state_of(r)
    return answer(await s.call(s.api.describe_principal, _p(r, "name"), **point(r.query_params)))


async def list_stage_policies(r: Request) -> Response:
    """Every stage policy in force."""
    s, q = state_of(r), r.query_params
    return paged(await s.call(s.api.list_stage_policies, **point(q)), q)


async def set_stage_policy(r: Request, b: Body) -> Response:
    """Set a stage policy."""
    s = state_of(r)
    return answer(await s.call(s.api.set_stage_policy, _p(r, "stage"), b.raw("approvals"),
                               model=b.opt_text("model")))


async def request_stage(r: Request, b: Body) -> Response:
    """Request a move into a protected stage."""
    s = state_of(r)
    return answer(await s.call(s.api.request_stage, _p(r, "model"), _p(r, "version"), b.text("stage"),
                               force=b.flag("force"), expires=b.opt_text("expires")))


async def approve_stage_request(r: Request, b: Body) -> Response:
    """Approve a pending request."""
    s = state_of(r)
    return answer(await s.call(s.api.approve_stage_request, _p(r, "model"), _p(r, "version"),
                               stage=b.opt_text("stage")))


async def reject_stage_request(r: Request, b: Body) -> Response:
    """Reject a pending request."""
    s = state_of(r)
    return answer(await s.call(s.api.reject_stage_request, _p(r, "model"), _p(r, "version"),
                               stage=b.opt_text("stage"), reason=b.opt_text("reason")))


async def list_stage_requests(r: Request) -> Response:
    """A model's stage change requests."""
    s, q = state_of(r), r.query_params
    found = await s.call(s.api.list_stage_requests, _p(r, "model"), version=query_int(q, "version", None, minimum=1),
                         status=q.get("status"), **point(q))
    return paged(found, q)
