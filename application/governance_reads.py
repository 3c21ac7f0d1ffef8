"""The read use cases of roles, stage policies and stage change requests (answered from the log's streams).

Mixed into :class:`~modelog.application.reads.ReadUseCases`; see :mod:`modelog.projections.governance`
for why these have no view tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from modelog.projections import governance
from modelog.projections.governance import RoleGrant, StagePolicy, StageRequestView
from modelog.projections.history import HistoryEntry, describe
from modelog.projections.identity import TokenView
from modelog.registry.errors import NotFoundError
from modelog.registry.recorder import TIME_FORMAT
from modelog.registry.vocabulary import EventType, principal_stream

if TYPE_CHECKING:
    from modelog.application.bootstrap import Reader
    from modelog.projections.queries import ReadModel


@dataclass(frozen=True)
class PrincipalDescription:
    """A principal with the roles it holds and its API tokens (``modelog principal show``)."""

    name: str
    disabled: bool
    roles: tuple[RoleGrant, ...]
    tokens: tuple[TokenView, ...]

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {"name": self.name, "disabled": self.disabled, "roles": [r.as_dict() for r in self.roles],
                "tokens": [asdict(t) for t in self.tokens]}


class GovernanceReads:
    """Reads of grants, policies and requests over one open registry (needs ``reader`` and ``reads``)."""

    reader: Reader

    @property
    def reads(self) -> ReadModel:
        """The read models' queries."""
        return self.reader.reads

    def describe_principal(self, name: str, *, as_of: datetime | None = None,
                           at_position: int | None = None) -> PrincipalDescription:
        """A principal, the roles it holds and its tokens (as of a past point if asked)."""
        point = self.reads.resolve_point(as_of, at_position)
        events = self.reader.store.read_stream(principal_stream(name), to_position=point)
        added = [e for e in events if e.event_type == EventType.PRINCIPAL_ADDED]
        if not added:
            raise NotFoundError(f"principal {name!r} does not exist (see 'modelog principal list')")
        canonical = str(added[0].data["name"])
        disabled = any(e.event_type == EventType.PRINCIPAL_DISABLED for e in events)
        tokens = self.reads.list_tokens(principal=canonical, at_position=point)
        return PrincipalDescription(canonical, disabled, tuple(governance.roles_of(self.reader.store, name, point)),
                                    tuple(tokens))

    def list_stage_policies(self, *, as_of: datetime | None = None,
                            at_position: int | None = None) -> list[StagePolicy]:
        """Every stage policy in force: registry-wide first, then per model."""
        point = self.reads.resolve_point(as_of, at_position)
        return governance.stage_policies(self.reader.store, point)

    def list_stage_requests(self, model: str, *, version: int | None = None, status: str | None = None,
                            as_of: datetime | None = None, at_position: int | None = None) -> list[StageRequestView]:
        """A model's stage change requests (of one version, in one status: pending, approved, rejected, expired),
        oldest first, as they stood at the read's point (expiry judged at that point's time, or now)."""
        point = self.reads.resolve_point(as_of, at_position)
        found = self.reads.get_model(model, at_position=point)
        now = datetime.now(UTC).strftime(TIME_FORMAT) if point is None else self._time_at(point)
        requests = governance.stage_requests(self.reader.store, found.id, found.name, now, point)
        return [r for r in requests if (version is None or r.number == version) and (status is None or
                                                                                   r.status == status)]

    def _time_at(self, position: int) -> str:
        events = self.reader.store.read_all(from_position=position, to_position=position)
        return next((e.recorded_at for e in events), datetime.now(UTC).strftime(TIME_FORMAT))

    def with_grants(self, entries: list[HistoryEntry], point: int | None) -> list[HistoryEntry]:
        """A model history with the grants of roles on its model(s) merged in, in log order."""
        order = {model_id: index for index, model_id in enumerate(dict.fromkeys(e.model_id for e in entries))}
        ids = {str(i) for i in order if i}
        if not ids:
            return entries
        grants = [describe(e, str(e.data.get("model_id"))) for e in
                  governance.model_grant_events(self.reader.store, ids, point)]
        # each model's entries stay together (a name's models one after the other), in log order within
        return sorted([*entries, *grants], key=lambda e: (order[e.model_id], e.position)) if grants else entries
