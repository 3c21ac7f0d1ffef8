"""The web UI's use cases: everything one page shows, read at one point of the log, as one typed answer.

Each function takes the service API and a :class:`Moment` (live, or a past log position) and
makes the reads a page needs, all at that same position, so a page never mixes two states of the
log. The UI renders the answer as HTML; its JSON twin is the same answer on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from modelog.application.timeline import Lineage, ModelDiff, Timeline, lineage, model_diff
from modelog.registry.errors import InvalidInputError, NotFoundError
from modelog.registry.signing import parse_public_key
from modelog.registry.vocabulary import EventType, run_stream

if TYPE_CHECKING:
    from modelog.application.api import RegistryAPI, VersionRef
    from modelog.application.artifacts import ArtifactReport
    from modelog.application.results import LogVerification
    from modelog.projections.describe import ModelSummary, VersionDescription
    from modelog.projections.governance import StageRequestView
    from modelog.projections.history import HistoryEntry
    from modelog.projections.rebuild import VerifyViewsReport
    from modelog.projections.views import ModelView, Page, RunView, StepView, VersionView
    from modelog.registry.anchors import Anchor
    from modelog.registry.checkpoints import Checkpoint
    from modelog.registry.recorder import StoredEvent

#: History entries and versions per page of the model page, events per page of the audit page.
HISTORY_PAGE, VERSIONS_PAGE, AUDIT_PAGE = 100, 50, 50


@dataclass(frozen=True)
class Moment:
    """The point a page shows: ``position`` None is live; ``head`` is the log's last position now."""

    position: int | None
    head: int
    recorded_at: str | None

    @property
    def past(self) -> bool:
        """True when the page shows the log as it was before its head."""
        return self.position is not None and self.position < self.head

    @property
    def at(self) -> int:
        """The position the page shows (the head when live)."""
        return self.head if self.position is None else self.position

    @property
    def read(self) -> int | None:
        """The ``at_position`` of every read this page makes (None when live)."""
        return self.position if self.past else None


def moment(api: RegistryAPI, as_of: datetime | None = None, at_position: int | None = None) -> Moment:
    """The moment a request asks for: live, or the log position of ``as_of`` / ``at_position`` (refused when in
    the future or past the end of the log)."""
    head = api.log_head().position
    position = api.resolve_point(as_of=as_of, at_position=at_position)
    if position is None or position >= head:
        position = None if position is None else head
    shown = head if position is None else position
    recorded = api.log_events(from_position=shown, limit=1) if shown > 0 else []
    return Moment(position, head, recorded[0].recorded_at if recorded else None)


@dataclass(frozen=True)
class ModelsPage:
    """The models page: a page of models with their production / staging versions and last change."""

    moment: Moment
    models: Page[ModelSummary]
    name: str | None
    tag: str | None
    sort_by: str


def models_page(api: RegistryAPI, at: Moment, *, name: str | None = None, tag: str | None = None,
                sort_by: str = "name", page: int = 1, size: int = 50) -> ModelsPage:
    """A page of models, filtered by name substring and tag."""
    found = api.list_model_summaries(name=name, tag=tag, sort_by=sort_by, page=page, size=size, at_position=at.read)
    return ModelsPage(at, found, name, tag, sort_by)


@dataclass(frozen=True)
class ModelPage:
    """The model page: the model, its aliases and last change, one page of its versions (newest first) with their
    lanes of the stage timeline, and one page of its (filtered) history. Its JSON twin carries what it shows."""

    moment: Moment
    model: ModelView
    aliases: dict[str, int]
    last_event: HistoryEntry | None
    version_total: int
    versions: tuple[VersionView, ...]
    version_page: int
    version_pages: int
    timeline: Timeline
    history: tuple[HistoryEntry, ...]
    history_total: int
    history_page: int
    actors: tuple[str, ...]
    kinds: tuple[str, ...]
    actor: str | None
    kind: str | None
    #: The model's stage change requests pending at the moment shown, oldest first.
    requests: tuple[StageRequestView, ...] = ()

    @property
    def stale_after(self) -> str | None:
        """When this live answer stops being true though the log stands still: a pending request expires."""
        return first_expiry(self.moment, self.requests)


#: The stages a policy may protect (moves into them may need approvals).
PROTECTABLE = ("staging", "production")


def protected_stages(api: RegistryAPI, at: Moment, model_id: str) -> dict[str, int]:
    """The approvals a move of the model into each protected stage needs at ``at`` (the model's own policy
    overrides the registry-wide one; a stage needing none is left out)."""
    needed: dict[str, int] = {}
    for policy in sorted(api.list_stage_policies(at_position=at.read), key=lambda p: p.model_id is not None):
        if policy.model_id is None or policy.model_id == model_id:
            needed[policy.stage] = policy.approvals
    return {stage: needed[stage] for stage in PROTECTABLE if needed.get(stage, 0) > 0}


def first_expiry(at: Moment, requests: tuple[StageRequestView, ...]) -> str | None:
    """The earliest expiry of pending ``requests`` on a live page (a past page never changes), else None."""
    return None if at.past else min((r.expires_at for r in requests), default=None)


def pending_requests(api: RegistryAPI, at: Moment, model: str,
                     version: int | None = None) -> tuple[StageRequestView, ...]:
    """The stage change requests of a model (or one of its versions) pending at ``at``, oldest first."""
    return tuple(api.list_stage_requests(model, version=version, status="pending", at_position=at.read))


def model_page(api: RegistryAPI, at: Moment, name: str, *, actor: str | None = None, kind: str | None = None,
               page: int = 1, version_page: int = 1) -> ModelPage:
    """A model at ``at``: a page of its versions (newest first) and their lanes of the stage timeline, its history
    filtered by actor and event kind, newest first, a page at a time. Reads what it shows, not the whole history."""
    found = api.get_model(name, at_position=at.read)
    versions = api.list_versions(name, at_position=at.read)
    history = api.history_page(name, actor=actor, kind=kind, page=page, size=HISTORY_PAGE, at_position=at.read)
    latest = history.entries[0] if history.entries and page == 1 and actor is None and kind is None else None
    if latest is None:
        newest = api.history_page(name, size=1, at_position=at.read).entries
        latest = newest[0] if newest else None
    aliases = {alias: v.number for v in versions for alias in v.aliases}
    newest_first = sorted(versions, key=lambda v: -v.number)
    shown = newest_first[(version_page - 1) * VERSIONS_PAGE: version_page * VERSIONS_PAGE]
    paged = len(versions) > VERSIONS_PAGE and bool(shown)
    timeline = api.stage_timeline(name, low=shown[-1].number if paged else None,
                                  high=shown[0].number if paged else None, at_position=at.read)
    return ModelPage(at, found, dict(sorted(aliases.items())), latest, len(versions), tuple(shown), version_page,
                     max(1, -(-len(versions) // VERSIONS_PAGE)), timeline, history.entries, history.total, page,
                     history.actors, history.kinds, actor, kind, pending_requests(api, at, found.name))


@dataclass(frozen=True)
class VersionPage:
    """The version page: metadata, artifacts, runs, stage history and lineage; the stages a move into needs
    approvals (stage -> approvals needed) and the version's pending stage change requests."""

    moment: Moment
    description: VersionDescription
    lineage: Lineage
    protected: dict[str, int]
    requests: tuple[StageRequestView, ...]

    @property
    def stale_after(self) -> str | None:
        """When this live answer stops being true though the log stands still: a pending request expires."""
        return first_expiry(self.moment, self.requests)


def version_page(api: RegistryAPI, at: Moment, model: str, version: VersionRef) -> VersionPage:
    """A version at ``at`` with its lineage, the model's protected stages and the version's pending requests."""
    found = api.describe_version(model, version, at_position=at.read)
    v = found.version
    return VersionPage(at, found, lineage(v, found.links, found.runs), protected_stages(api, at, v.model_id),
                       pending_requests(api, at, v.model_name, v.number))


@dataclass(frozen=True)
class RunVersion:
    """The model version a run ran in the context of, and whether it created it."""

    model_name: str
    number: int
    created: bool


@dataclass(frozen=True)
class RunPage:
    """The run page: the run, its steps with their outputs, the version it created or used."""

    moment: Moment
    run: RunView
    steps: tuple[StepView, ...]
    version: RunVersion | None


def run_page(api: RegistryAPI, at: Moment, run_id: str) -> RunPage:
    """A run at ``at`` (the id may be a unique prefix)."""
    run = api.get_run(run_id, at_position=at.read)
    steps = api.list_run_steps(run.run_id, at_position=at.read)
    started = api.log_events(streams=[run_stream(run.run_id)], limit=1, at_position=at.read)
    version = None
    if started and started[0].event_type == EventType.PIPELINE_RUN_STARTED:
        data = started[0].data
        if data.get("model_name") and isinstance(data.get("version_number"), int):
            name = run.model_name or str(data["model_name"])  # the view's: the model's name then, renames followed
            version = RunVersion(name, int(data["version_number"]), bool(data.get("created_version")))
    return RunPage(at, run, tuple(steps), version)


@dataclass(frozen=True)
class DiffPage:
    """What changed in a model between two moments."""

    before: Moment
    after: Moment
    diff: ModelDiff


def diff_page(api: RegistryAPI, before: Moment, after: Moment, model: str) -> DiffPage:
    """The diff of ``model`` between ``before`` and ``after`` (swapped when given the other way round)."""
    if before.at > after.at:
        before, after = after, before
    versions_after = api.list_versions(model, at_position=after.read)
    try:
        versions_before = api.list_versions(model, at_position=before.at) if before.at > 0 else []
    except NotFoundError:  # the model did not exist yet: everything since is new
        versions_before = []
    history = api.history(model, at_position=after.read)
    return DiffPage(before, after, model_diff(model, before.at, after.at, versions_before, versions_after, history))


#: What the audit page says when the server has no signing key.
SIGNING_HINT = ("Signed checkpoints: not available, this server has no signing key. To enable them, make a key "
                "('modelog keys generate') and start the server with MODELOG_SIGNING_KEY=<private key file>; "
                "until then the log head above is the anchor to copy.")


@dataclass(frozen=True)
class AuditPage:
    """The audit page: one page of the log, its head (the anchor to keep), and a signed checkpoint of the head
    when the server signs (else ``signing_hint`` says how to enable it)."""

    moment: Moment
    head: Anchor
    events: tuple[StoredEvent, ...]
    start: int
    size: int
    checkpoint: Checkpoint | None
    signing_hint: str | None


def signed_checkpoint(api: RegistryAPI) -> tuple[Checkpoint | None, str | None]:
    """A checkpoint of the head signed with the registry's key, or None and why there is none."""
    if api.log_head().position == 0:
        return None, "Signed checkpoints: the log is empty, there is nothing to sign yet."
    try:
        return api.log_checkpoint(), None
    except InvalidInputError:  # no signing key configured (the one refusal left once the log has events)
        return None, SIGNING_HINT


def audit_page(api: RegistryAPI, at: Moment, *, start: int | None = None, size: int = AUDIT_PAGE) -> AuditPage:
    """The log's events from ``start`` (default: the last page up to the moment shown); live, a signed checkpoint."""
    head = api.log_head(at_position=at.read)
    first = start if start is not None else max(1, head.position - size + 1)
    events = api.log_events(from_position=first, limit=size, at_position=at.read) if head.position else []
    checkpoint, hint = (None, "Signed checkpoints: shown on the live page only.") if at.past else signed_checkpoint(api)
    return AuditPage(at, head, tuple(events), first, size, checkpoint, hint)


@dataclass(frozen=True)
class Verification:
    """A full check of the registry: the hash chain (and, when the server signs, every event's signature
    against the public half of its key and a fresh checkpoint), the read models against a replay, every artifact
    file."""

    head: Anchor
    log: LogVerification
    projections: VerifyViewsReport
    artifacts: ArtifactReport
    #: The key id the signatures were checked against (None: the server does not sign, no signature check).
    signing_key: str | None = None

    @property
    def ok(self) -> bool:
        """True when all the checks passed."""
        return bool(self.log.ok and self.projections.ok and self.artifacts.ok)


def verify_all(api: RegistryAPI) -> Verification:
    """Verify the chain (with the signatures when the server signs), the projections and the artifacts now.

    The public key is the public half of the server's own signing key, as its checkpoint states it: the check
    proves every event since signing began was signed by that key, and that the log agrees with the checkpoint.
    """
    head = api.log_head()
    checkpoint, _ = signed_checkpoint(api)
    if checkpoint is None:
        log = api.verify_log()
    else:
        log = api.verify_log(public_keys=[parse_public_key(checkpoint.public_key)], checkpoints=[checkpoint])
    return Verification(head, log, api.verify_projections(), api.verify_artifacts(),
                        None if checkpoint is None else checkpoint.key_id)
