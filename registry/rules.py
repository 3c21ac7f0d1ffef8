"""The domain's rules checked on a log that did not come through the command layer.

Commands can only append what the aggregates decide. An imported file, or a row forged into the
``events`` table, never went through them: it can hold a stream whose versions skip a number
(the model then refuses every write with a misleading concurrency error), two production
holders, a version number that is not a number, a name the naming rule refuses. :class:`RuleCheck`
replays events, in log order, through the aggregates of :mod:`registry.aggregates` and names the
first one the domain would never have decided. Import runs it on every line before anything is
written; ``modelog log verify --rules`` runs it on the stored log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from modelog.registry import events as ev
from modelog.registry.aggregates import Aggregate, ArtifactState, ModelState, NameClaim, RunState
from modelog.registry.approvals import APPROVED, REJECTED
from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.errors import InvalidInputError
from modelog.registry.governance import PolicyState
from modelog.registry.hashing import canonical_json
from modelog.registry.identity import PrincipalState, TokenState
from modelog.registry.recorder import EventRow, StoredEvent
from modelog.registry.validation import clean_name, clean_tags, name_key
from modelog.registry.values import EXCLUSIVE_STAGES, RunStatus
from modelog.registry.vocabulary import StreamKind, artifact_stream, model_stream, name_stream
from pydantic import ValidationError


class _CheckedModel(ModelState):
    """The Model aggregate as the rules need it: links and runs are not kept (no rule looks at them).

    A log of a million links would otherwise hold every artifact id in memory for the whole check.
    """

    def _on_ArtifactLinked(self, event: ev.ArtifactLinked) -> None:
        self.versions[event.number]  # noqa: B018 - the version must exist (KeyError otherwise)

    def _on_ArtifactUnlinked(self, event: ev.ArtifactUnlinked) -> None:
        self.versions[event.number]  # noqa: B018

    def _on_PipelineRunLinked(self, event: ev.PipelineRunLinked) -> None:
        self.versions[event.number]  # noqa: B018


E = ev
#: The aggregate of each stream kind, and the events a stream of that kind may hold.
_KINDS: dict[str, tuple[type[Aggregate], frozenset[type[ev.Event]]]] = {
    StreamKind.NAME.prefix: (NameClaim, frozenset({E.ModelNameClaimed, E.ModelNameReleased})),
    StreamKind.MODEL.prefix: (_CheckedModel, frozenset({
        E.ModelRegistered, E.ModelUpdated, E.ModelDeleted, E.ModelRenamed, E.ModelVersionCreated,
        E.ModelVersionUpdated, E.ModelVersionStageChanged, E.ModelVersionAliasSet, E.ModelVersionAliasRemoved,
        E.ModelVersionDeleted,
        E.ArtifactLinked, E.ArtifactUnlinked, E.PipelineRunLinked, E.ModelVersionMetadataLogged,
        E.StageChangeRequested, E.StageChangeApproved, E.StageChangeRejected})),
    StreamKind.RUN.prefix: (RunState, frozenset({
        E.PipelineRunStarted, E.PipelineStepCompleted, E.PipelineRunCompleted, E.PipelineRunFailed})),
    StreamKind.ARTIFACT.prefix: (ArtifactState, frozenset({E.ArtifactVersionStored})),
    StreamKind.PRINCIPAL.prefix: (PrincipalState, frozenset({E.PrincipalAdded, E.PrincipalDisabled, E.RoleGranted,
                                                             E.RoleRevoked})),
    StreamKind.POLICY.prefix: (PolicyState, frozenset({E.StagePolicySet})),
    StreamKind.TOKEN.prefix: (TokenState, frozenset({E.TokenCreated, E.TokenRevoked})),
}


class RuleBreach(Exception):
    """An event the domain would have refused: ``position`` and what is wrong with it."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"position {position}: {problem}")
        self.position, self.problem = position, problem


class RuleCheck:
    """Replays events through the aggregates, one at a time in log order; raises :class:`RuleBreach`."""

    def __init__(self) -> None:
        self.streams: dict[str, Aggregate] = {}
        self.checked = 0

    def check_row(self, row: EventRow) -> None:
        """Check one stored row (its ``data`` is the canonical JSON text) and apply it."""
        try:
            event = _decode(row.event_type, row.schema_version, row.data)
        except (ValidationError, ValueError, TypeError, KeyError) as error:
            raise RuleBreach(row.position, f"{row.event_type} data does not fit the event ({_first(error)})") from None
        self.check(row.position, row.stream_id, row.stream_version, event)

    def check(self, position: int, stream_id: str, stream_version: int, event: ev.Event) -> None:
        """Check one typed event against the state its stream has reached, then apply it."""
        state = self.streams.get(stream_id)
        if state is None:
            state = self._new_state(position, stream_id, event)
        expected = state.version + 1
        if stream_version != expected:
            raise RuleBreach(position, f"stream {stream_id} jumps from version {state.version} to {stream_version} "
                                       f"(expected {expected})")
        problem = _RULES.get(type(event), _nothing)(state, stream_id, event)
        if problem:
            raise RuleBreach(position, f"{event.event_type} on {stream_id}: {problem}")
        try:
            state.apply(event)
        except (KeyError, InvalidInputError) as error:
            raise RuleBreach(position, f"{event.event_type} on {stream_id}: cannot be applied ({error})") from None
        if isinstance(state, ModelState) and isinstance(event, ev.ModelVersionStageChanged):
            problem = _single_holders_problem(state)
            if problem:
                raise RuleBreach(position, f"{event.event_type} on {stream_id}: {problem}")
        self.checked += 1

    def _new_state(self, position: int, stream_id: str, event: ev.Event) -> Aggregate:
        kind = next((prefix for prefix in _KINDS if stream_id.startswith(prefix)), None)
        if kind is None:
            raise RuleBreach(position, f"stream {stream_id!r} is of no known kind "
                                       "(name-, model-, run-, artifact-, principal-, token-, policy-)")
        cls, allowed = _KINDS[kind]
        if type(event) not in allowed:
            raise RuleBreach(position, f"{event.event_type} cannot be in a {kind[:-1]} stream ({stream_id})")
        state = cls()
        self.streams[stream_id] = state
        return state

    def check_stored(self, event: StoredEvent) -> None:
        """Check one event as the store reads it back (its data decoded), judged as strictly as a file's line."""
        self.check_row(EventRow(event.position, event.stream_id, event.stream_version, event.event_type,
                                event.schema_version, canonical_json(event.data), "", "", "", ""))

    def check_all(self, rows: Iterable[EventRow]) -> int:
        """Check every row in order; the number checked."""
        for row in rows:
            self.check_row(row)
        return self.checked


def first_breach(events: Iterable[StoredEvent]) -> tuple[int, RuleBreach | None]:
    """Replay ``events`` (the whole log, in order) through the rules: how many obey them, and the first breach."""
    check = RuleCheck()
    for event in events:
        try:
            check.check_stored(event)
        except RuleBreach as breach:
            return check.checked, breach
    return check.checked, None


def _decode(event_type: str, schema_version: int, data: str) -> ev.Event:
    cls = ev.EVENT_CLASSES[event_type]
    if schema_version == CURRENT_SCHEMA.get(event_type):
        return cls.model_validate_json(data, strict=True)  # JSON types as written: "3" is not a number
    from modelog.registry._sql.json_decode import decode_json

    return cls.model_validate(upcast(event_type, schema_version, decode_json(data)))


def _first(error: Exception) -> str:
    if isinstance(error, ValidationError):
        detail = error.errors()[0]
        where = ".".join(str(part) for part in detail["loc"]) or "data"
        return f"{where}: {detail['msg']}"
    return str(error) or type(error).__name__


def _single_holders_problem(model: ModelState) -> str | None:
    for stage in EXCLUSIVE_STAGES:
        holders = [v.label() for v in model.live_versions() if v.stage == stage]
        if len(holders) > 1:
            return f"model {model.name!r} has {len(holders)} {stage.value} versions ({', '.join(holders)}); " \
                   "at most one may hold it"
    return None


# --- per-event rules: what must be true of the state before the event --------------------------

Rule = Callable[[Any, str, Any], str | None]


def _nothing(state: Any, stream_id: str, event: Any) -> str | None:
    return None


def _name_problem(*names_and_whats: tuple[str | None, str]) -> str | None:
    try:
        for name, what in names_and_whats:
            if name is not None:
                clean_name(name, what, scripts=False)  # names registered before the script rule stay valid
    except InvalidInputError as error:
        return str(error)
    return None


def _claimed(claim: NameClaim, stream_id: str, event: ev.ModelNameClaimed) -> str | None:
    if claim.holder is not None:
        return f"the name is held by model {claim.holder} already"
    if name_stream(event.name) != stream_id:
        return f"name {event.name!r} belongs to stream {name_stream(event.name)}"
    return _name_problem((event.name, "model name"))


def _released(claim: NameClaim, stream_id: str, event: ev.ModelNameReleased) -> str | None:
    return None if claim.holder == event.model_id else f"model {event.model_id} does not hold the name"


def _registered(model: ModelState, stream_id: str, event: ev.ModelRegistered) -> str | None:
    if model.exists:
        return "the model is registered already"
    if model_stream(event.model_id) != stream_id:
        return f"model id {event.model_id} belongs to stream {model_stream(event.model_id)}"
    try:
        clean_tags(event.tags)
    except InvalidInputError as error:
        return str(error)
    return _name_problem((event.name, "model name"))


def _live(model: ModelState, stream_id: str, event: Any) -> str | None:
    if not model.exists:
        return "the model was never registered"
    return "the model is deleted" if model.deleted else None


def _renamed(model: ModelState, stream_id: str, event: ev.ModelRenamed) -> str | None:
    found = _live(model, stream_id, event)
    if found:
        return found
    if event.old_name != model.name:
        return f"the model is named {model.name!r}, not {event.old_name!r}"
    if event.new_name == event.old_name:
        return f"the model is named {event.new_name!r} already"
    return _name_problem((event.new_name, "model name"))


def _on_version(model: ModelState, stream_id: str, event: Any) -> str | None:
    found = _live(model, stream_id, event)
    if found:
        return found
    target = model.versions.get(event.number)
    if target is None:
        return f"version {event.number} does not exist"
    return f"version {event.number} is deleted" if target.deleted else None


def _created(model: ModelState, stream_id: str, event: ev.ModelVersionCreated) -> str | None:
    found = _live(model, stream_id, event)
    if found:
        return found
    if event.number != model.max_number + 1:
        return f"version number {event.number} is not the next one ({model.max_number + 1})"
    if event.name != str(event.number):
        return _name_problem((event.name, "version name"))
    return None


def _stage_changed(model: ModelState, stream_id: str, event: ev.ModelVersionStageChanged) -> str | None:
    found = _on_version(model, stream_id, event)
    if found:
        return found
    current = model.versions[event.number].stage
    return None if current == event.from_stage else \
        f"version {event.number} is {current.value}, not {event.from_stage.value}"


def _alias_set(model: ModelState, stream_id: str, event: ev.ModelVersionAliasSet) -> str | None:
    found = _on_version(model, stream_id, event) or _name_problem((event.alias, "alias"))
    if found:
        return found
    held = model.aliases.get(event.alias)
    return None if held == event.previous_number else \
        f"alias @{event.alias} was on version {held}, not {event.previous_number}"


def _alias_removed(model: ModelState, stream_id: str, event: ev.ModelVersionAliasRemoved) -> str | None:
    found = _live(model, stream_id, event)
    if found:
        return found
    held = model.aliases.get(event.alias)
    return None if held == event.number else f"alias @{event.alias} is not on version {event.number}"


def _run_started(run: RunState, stream_id: str, event: ev.PipelineRunStarted) -> str | None:
    if run.version:
        return "the run has started already"
    if stream_id != f"{StreamKind.RUN.prefix}{event.run_id}":
        return f"run id {event.run_id!r} does not match the stream"
    return _name_problem((event.pipeline, "pipeline"))


def _running(run: RunState, stream_id: str, event: Any) -> str | None:
    return None if run.status is RunStatus.RUNNING else f"the run is {run.status}, not running"


def _stored(artifact: ArtifactState, stream_id: str, event: ev.ArtifactVersionStored) -> str | None:
    if artifact_stream(event.name) != stream_id:
        return f"artifact {event.name!r} belongs to stream {artifact_stream(event.name)}"
    if event.version != artifact.latest + 1:
        return f"artifact version {event.version} is not the next one ({artifact.latest + 1})"
    return _name_problem((event.name, "artifact name"))


def _requested(model: ModelState, stream_id: str, event: ev.StageChangeRequested) -> str | None:
    found = _on_version(model, stream_id, event)
    if found:
        return found
    return None if event.request == len(model.requests) + 1 else \
        f"request number {event.request} is not the next one ({len(model.requests) + 1})"


def _decided(model: ModelState, stream_id: str, event: Any) -> str | None:
    request = model.requests.get(event.request)
    if request is None:
        return f"request {event.request} does not exist"
    if request.number != event.number or request.stage != event.stage:
        return f"request {event.request} is about version {request.number} into {request.stage.value}"
    status = request.status("")  # expiry needs the event's time, which the rules do not see
    if status in (APPROVED, REJECTED):
        return f"request {event.request} is {status} already"
    by = getattr(event, "approved_by", None)
    if by is not None and name_key(by) in {name_key(request.requested_by), *map(name_key, request.approved_by)}:
        return f"{by!r} cannot approve request {event.request} (its requester, or approved already)"
    return None


def _principal_exists(principal: PrincipalState, stream_id: str, event: Any) -> str | None:
    return None if principal.version else "the principal was never added"


def _role_held(principal: PrincipalState, stream_id: str, event: ev.RoleRevoked) -> str | None:
    held = (event.role.value, event.model_id) in principal.roles
    return None if held else f"the principal does not hold {event.role.value} there"


_RULES: dict[type[ev.Event], Rule] = {
    E.ModelNameClaimed: _claimed, E.ModelNameReleased: _released,
    E.ModelRegistered: _registered, E.ModelUpdated: _live, E.ModelDeleted: _live, E.ModelRenamed: _renamed,
    E.ModelVersionCreated: _created, E.ModelVersionUpdated: _on_version, E.ModelVersionStageChanged: _stage_changed,
    E.ModelVersionAliasSet: _alias_set, E.ModelVersionAliasRemoved: _alias_removed,
    E.ModelVersionDeleted: _on_version, E.ArtifactLinked: _on_version, E.ArtifactUnlinked: _on_version,
    E.PipelineRunLinked: _on_version,
    E.PipelineRunStarted: _run_started, E.PipelineStepCompleted: _running, E.PipelineRunCompleted: _running,
    E.PipelineRunFailed: _running,
    E.StageChangeRequested: _requested, E.StageChangeApproved: _decided, E.StageChangeRejected: _decided,
    E.RoleGranted: _principal_exists, E.RoleRevoked: _role_held,
}
del E
