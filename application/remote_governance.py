"""The remote client's use cases of roles, stage policies and four-eyes approvals (mixed into ``RemoteRegistry``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from modelog.application.api import VersionRef
from modelog.application.governance_reads import PrincipalDescription
from modelog.application.results import PolicyChanged, RoleChanged, StageRequestChanged
from modelog.application.wire import decode, decode_list
from modelog.projections.governance import StagePolicy, StageRequestView

T = TypeVar("T")


def point_params(as_of: datetime | None, at_position: int | None) -> dict[str, Any]:
    """The query parameters of a read's point in time."""
    params: dict[str, Any] = {}
    if as_of is not None:
        # A naive time means the client's local time, not the server's.
        params["as_of"] = (as_of if as_of.tzinfo else as_of.astimezone()).isoformat()
    if at_position is not None:
        params["at_position"] = at_position
    return params


def segment(value: object) -> str:
    """One path segment (a name, a selector, an id), escaped; None is ``latest``."""
    return quote("latest" if value is None else str(value), safe="")


class GovernanceRemote:
    """Roles, policies and stage change requests over HTTP (the transport is the registry client's)."""

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def _command(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def _pages(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        raise NotImplementedError

    def _decoded(self, build: Callable[[Any], T], data: Any) -> T:
        raise NotImplementedError

    def grant_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Grant a role."""
        found = self._command("POST", f"/principals/{segment(principal)}/roles", {"role": role, "model": model})
        return self._decoded(lambda d: decode(RoleChanged, d), found)

    def revoke_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Revoke a role."""
        found = self._command("POST", f"/principals/{segment(principal)}/roles/revoke",
                              {"role": role, "model": model})
        return self._decoded(lambda d: decode(RoleChanged, d), found)

    def describe_principal(self, name: str, *, as_of: datetime | None = None,
                           at_position: int | None = None) -> PrincipalDescription:
        """A principal, its roles and tokens."""
        found = self._get(f"/principals/{segment(name)}", point_params(as_of, at_position))
        return self._decoded(lambda d: decode(PrincipalDescription, d), found)

    def set_stage_policy(self, stage: str, approvals: int, *, model: str | None = None) -> PolicyChanged:
        """Set a stage policy."""
        found = self._command("PUT", f"/policies/{segment(stage)}", {"approvals": approvals, "model": model})
        return self._decoded(lambda d: decode(PolicyChanged, d), found)

    def list_stage_policies(self, *, as_of: datetime | None = None,
                            at_position: int | None = None) -> list[StagePolicy]:
        """Every stage policy in force."""
        found = self._pages("/policies", point_params(as_of, at_position))
        return self._decoded(lambda d: decode_list(StagePolicy, d), found)

    def request_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request a move into a protected stage."""
        found = self._command("POST", f"/models/{segment(model)}/versions/{segment(version)}/requests",
                              {"stage": stage, "force": force, "expires": expires})
        return self._decoded(lambda d: decode(StageRequestChanged, d), found)

    def approve_stage_request(self, model: str, version: VersionRef, *,
                              stage: str | None = None) -> StageRequestChanged:
        """Approve a pending request."""
        found = self._command("POST", f"/models/{segment(model)}/versions/{segment(version)}/approve",
                              {"stage": stage})
        return self._decoded(lambda d: decode(StageRequestChanged, d), found)

    def reject_stage_request(self, model: str, version: VersionRef, *, stage: str | None = None,
                             reason: str | None = None) -> StageRequestChanged:
        """Reject a pending request."""
        found = self._command("POST", f"/models/{segment(model)}/versions/{segment(version)}/reject",
                              {"stage": stage, "reason": reason})
        return self._decoded(lambda d: decode(StageRequestChanged, d), found)

    def list_stage_requests(self, model: str, *, version: int | None = None, status: str | None = None,
                            as_of: datetime | None = None, at_position: int | None = None) -> list[StageRequestView]:
        """A model's stage change requests."""
        params = {**point_params(as_of, at_position), **({"version": version} if version is not None else {}),
                  **({"status": status} if status is not None else {})}
        found = self._pages(f"/models/{segment(model)}/requests", params)
        return self._decoded(lambda d: decode_list(StageRequestView, d), found)
