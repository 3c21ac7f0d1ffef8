"""Grants, stage policies and stage change requests, read straight from their streams in the log.

They have no view tables: a principal's stream, the policy stream and one model's stream are
short to replay, a read at a past position simply stops there (so as-of reads show requests,
grants and policies exactly as they were), and what the permission check and the command layer
decide from (the log) is what these listings show. The documented exception to the history-twin
rule, like the identity views' past reads (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from modelog.registry.catalog import upcast
from modelog.registry.recorder import Recorder
from modelog.registry.store import StoredEvent
from modelog.registry.vocabulary import POLICY_STREAM, PRINCIPAL_PREFIX, EventType, model_stream, principal_stream


@dataclass(frozen=True)
class RoleGrant:
    """A role a principal holds: registry-wide (``model`` None) or on one model; who granted it, when."""

    role: str
    model: str | None
    model_id: str | None
    granted_at: str
    granted_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class StagePolicy:
    """How many approvals a move into ``stage`` needs, registry-wide (``model`` None) or on one model."""

    stage: str
    approvals: int
    model: str | None
    model_id: str | None
    set_at: str
    set_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class StageRequestView:
    """A stage change request of a model version and where it stands (at the read's point in time)."""

    model_name: str
    request: int
    number: int
    stage: str
    force: bool
    status: str
    requested_by: str
    requested_at: str
    expires_at: str
    approvals: int
    approved_by: tuple[str, ...]
    decided_by: str | None
    decided_at: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {**asdict(self), "approved_by": list(self.approved_by)}


def _data(event: StoredEvent) -> dict[str, Any]:
    return upcast(event.event_type, event.schema_version, event.data)


def _upto(events: Iterable[StoredEvent], position: int | None) -> list[StoredEvent]:
    return [e for e in events if position is None or e.position <= position]


def roles_of(store: Recorder, name: str, position: int | None = None) -> list[RoleGrant]:
    """The roles principal ``name`` holds (at ``position``), registry-wide first, then by model and role."""
    held: dict[tuple[str, str | None], RoleGrant] = {}
    for event in store.read_stream(principal_stream(name), to_position=position):
        data = _data(event)
        key = (str(data.get("role")), data.get("model_id"))
        if event.event_type == EventType.ROLE_GRANTED:
            held[key] = RoleGrant(key[0], data.get("model"), key[1], event.recorded_at, event.meta.get("actor"))
        elif event.event_type == EventType.ROLE_REVOKED:
            held.pop(key, None)
    order = ("viewer", "contributor", "maintainer", "admin")
    return sorted(held.values(), key=lambda g: (g.model is not None, g.model or "", order.index(g.role)))


def stage_policies(store: Recorder, position: int | None = None) -> list[StagePolicy]:
    """Every stage policy in force (at ``position``): registry-wide first, then by model and stage."""
    found: dict[tuple[str | None, str], StagePolicy] = {}
    for event in store.read_stream(POLICY_STREAM, to_position=position):
        data = _data(event)
        found[(data.get("model_id"), data["stage"])] = StagePolicy(
            data["stage"], int(data["approvals"]), data.get("model"), data.get("model_id"), event.recorded_at,
            event.meta.get("actor"))
    return sorted(found.values(), key=lambda p: (p.model is not None, p.model or "", p.stage))


def stage_requests(store: Recorder, model_id: str, model_name: str, now: str,
                   position: int | None = None) -> list[StageRequestView]:
    """Every stage change request of a model (at ``position``; expiry judged at ``now``), oldest first."""
    rows: dict[int, dict[str, Any]] = {}
    wanted = {EventType.STAGE_CHANGE_REQUESTED, EventType.STAGE_CHANGE_APPROVED, EventType.STAGE_CHANGE_REJECTED}
    for event in _upto(store.read_stream(model_stream(model_id)), position):
        if event.event_type not in wanted:
            continue
        data = _data(event)
        if event.event_type == EventType.STAGE_CHANGE_REQUESTED:
            rows[data["request"]] = {**{k: data[k] for k in ("request", "number", "stage", "requested_by",
                                                             "expires_at", "approvals")},
                                     "force": bool(data.get("force")), "requested_at": event.recorded_at,
                                     "approved_by": [], "decided_by": None, "decided_at": None, "reason": None,
                                     "rejected": False}
            continue
        row = rows[data["request"]]
        if event.event_type == EventType.STAGE_CHANGE_APPROVED:
            row["approved_by"].append(data["approved_by"])
            if len(row["approved_by"]) >= row["approvals"]:
                row["decided_by"], row["decided_at"] = data["approved_by"], event.recorded_at
        else:
            row.update(rejected=True, decided_by=data["rejected_by"], decided_at=event.recorded_at,
                       reason=data.get("reason"))
    return [_request_view(model_name, row, now) for row in rows.values()]


def _request_view(model_name: str, row: dict[str, Any], now: str) -> StageRequestView:
    if len(row["approved_by"]) >= row["approvals"]:
        status = "approved"
    elif row["rejected"]:
        status = "rejected"
    else:
        status = "expired" if row["expires_at"] <= now else "pending"
    return StageRequestView(model_name, row["request"], row["number"], row["stage"], row["force"], status,
                            row["requested_by"], row["requested_at"], row["expires_at"], row["approvals"],
                            tuple(row["approved_by"]), row["decided_by"], row["decided_at"], row["reason"])


def model_grant_events(store: Recorder, model_ids: set[str], position: int | None = None) -> list[StoredEvent]:
    """The grant and revocation events of roles on these models (from every principal's stream), in log order."""
    kinds = {EventType.ROLE_GRANTED, EventType.ROLE_REVOKED}
    return [e for e in store.read_all(to_position=position, stream_prefix=PRINCIPAL_PREFIX)
            if e.event_type in kinds and e.data.get("model_id") in model_ids]

