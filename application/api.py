"""The registry's one service API: every use case, as a typed Protocol that any implementation satisfies.

The SDK's ``Client``, the CLI and the coming HTTP server are adapters over this API: they
parse their input, call one method, and format what it returns. ``LocalRegistry``
(:mod:`modelog.application.local`) implements it in process over the log and the read
models; a remote implementation (a client of ``modelog server``) can stand in for it with no
change to the adapters. Every read takes ``as_of`` / ``at_position``; every command returns a
frozen, typed outcome; every refusal is a :class:`~modelog.registry.errors.RegistryError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from modelog.application.artifact_content import ArtifactContent
    from modelog.application.artifacts import ArtifactReport
    from modelog.application.bundle import Transferred
    from modelog.application.governance_reads import PrincipalDescription
    from modelog.application.requests import OutputBytes
    from modelog.application.results import (
        AliasMoved,
        AliasRemoved,
        ArtifactLinkRecorded,
        LogVerification,
        ModelChanged,
        PolicyChanged,
        PrincipalChanged,
        RoleChanged,
        RunFinished,
        RunStarted,
        StageChanged,
        StageRequestChanged,
        StepRecorded,
        TokenChanged,
        VersionChanged,
        VersionUpdate,
    )
    from modelog.projections.activity import HistoryPage, Timeline
    from modelog.projections.describe import (
        ModelDescription,
        ModelSummary,
        VersionComparison,
        VersionDescription,
        VersionRow,
    )
    from modelog.projections.governance import StagePolicy, StageRequestView
    from modelog.projections.history import HistoryEntry
    from modelog.projections.identity import PrincipalView, TokenView
    from modelog.projections.rebuild import RebuildReport, VerifyViewsReport
    from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView, StepView, VersionView
    from modelog.registry.anchors import Anchor
    from modelog.registry.artifact_store import StoredBlob
    from modelog.registry.checkpoints import Checkpoint
    from modelog.registry.commands import ModelContext, OutputSpec
    from modelog.registry.signing import PublicKey
    from modelog.registry.store import StoredEvent

#: A version selector: a number, a name, a stage, ``latest`` (None) or ``@alias``.
VersionRef = int | str | None
#: Called with the number of events done so far during long passes (import, export, rebuild).
Progress = Callable[[int], None]
#: The error type recorded when an operator closes a run whose process died.
ABANDONED = "Abandoned"
#: The reason recorded for such a run unless the operator gives one.
DEFAULT_ABANDON_REASON = "closed by an operator (the process running it is gone)"


class RegistryAPI(Protocol):
    """Every use case of the registry: reads (live or as of a past point), commands, runs, artifacts, the log."""

    # --- points in time ------------------------------------------------------------

    def resolve_point(self, as_of: datetime | None = None, at_position: int | None = None) -> int | None:
        """The log position a read refers to (None: live); refuses a future time or a position past the end."""

    # --- models --------------------------------------------------------------------

    def list_models(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                    page: int = 1, size: int = 50, as_of: datetime | None = None,
                    at_position: int | None = None) -> Page[ModelView]:
        """A page of live models, optionally filtered by name substring and tag."""

    def get_model(self, name: str, *, as_of: datetime | None = None, at_position: int | None = None) -> ModelView:
        """One model by name."""

    def register_model(self, name: str, *, fields: Mapping[str, str | None] | None = None,
                       tags: Sequence[str] = ()) -> ModelChanged:
        """Register a model (fields: license, description, audience, use_cases, limitations, trade_offs, ethics)."""

    def update_model(self, name: str, *, changes: Mapping[str, str | None] | None = None,
                     add_tags: Sequence[str] = (), remove_tags: Sequence[str] = ()) -> ModelChanged:
        """Change text fields of a model and add / remove tags (no events when nothing changes)."""

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a model and its versions (its history stays in the log) and free its name."""

    def rename_model(self, name: str, new_name: str) -> ModelChanged:
        """Give a model a new name (claimed, and the old one freed, in one transaction); its id, versions, aliases,
        stages, tags, grants and history stay its own. ``model_name`` of the answer is the new name."""

    def history(self, model: str, *, include_runs: bool = False, as_of: datetime | None = None,
                at_position: int | None = None) -> list[HistoryEntry]:
        """Every event of a model's stream (deleted models too), oldest first; optionally its runs' events."""

    def history_page(self, model: str, *, actor: str | None = None, kind: str | None = None, page: int = 1,
                     size: int = 100, as_of: datetime | None = None,
                     at_position: int | None = None) -> HistoryPage:
        """A page of a model's history (the model holding the name then), newest first, filtered by actor and
        event kind, with the actors and kinds to choose from."""

    def stage_timeline(self, model: str, *, low: int | None = None, high: int | None = None,
                       as_of: datetime | None = None, at_position: int | None = None) -> Timeline:
        """A model's stage timeline: one lane per version ever created (numbers ``low``..``high`` when given),
        spans and markers at log positions."""

    # --- versions ------------------------------------------------------------------

    def list_versions(self, model: str, *, stage: str | None = None, as_of: datetime | None = None,
                      at_position: int | None = None) -> list[VersionView]:
        """Every live version of a model (optionally only those in ``stage``), by number."""

    def get_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                    at_position: int | None = None) -> VersionView:
        """The version a selector names."""

    def create_version(self, model: str, *, name: str | None = None, description: str | None = None,
                       tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionChanged:
        """Create the next version of an existing model (with ``metadata``: logged on it in the same transaction,
        so the version never exists without it)."""

    def update_version(self, model: str, version: VersionRef, *, stage: str | None = None, force: bool = False,
                       name: str | None = None, description: str | None = None, set_aliases: Sequence[str] = (),
                       remove_aliases: Sequence[str] = (), add_tags: Sequence[str] = (),
                       remove_tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionUpdate:
        """Promote, rename, describe, alias, tag and log metadata on one version together: all of it is applied,
        or none."""

    def set_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False) -> StageChanged:
        """Move a version into a stage; ``force`` archives the current holder of staging / production."""

    def set_alias(self, model: str, version: VersionRef, alias: str) -> AliasMoved:
        """Point an alias at a version, moving it from another version if needed."""

    def remove_alias(self, model: str, alias: str) -> AliasRemoved:
        """Remove an alias from whichever version holds it."""

    def delete_version(self, model: str, version: VersionRef) -> VersionChanged:
        """Delete a version (reason: user); its number is never reused."""

    def list_links(self, model: str, version: VersionRef = None, *, kind: str | None = None,
                   as_of: datetime | None = None, at_position: int | None = None) -> list[LinkView]:
        """Artifacts linked to a version (kind: data, model, deployment), in link order."""

    def link_artifact(self, model: str, version: VersionRef, artifact_id: str, *, name: str | None = None,
                      kind: str = "data", overwrite: bool = False) -> ArtifactLinkRecorded:
        """Link a stored artifact version (as the log recorded it) to a model version."""

    def list_version_runs(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> list[RunView]:
        """Runs linked to a version, in link order."""

    # --- runs ----------------------------------------------------------------------

    def start_run(self, run_id: str, pipeline: str, *, model: ModelContext | None = None,
                  enable_cache: bool = False) -> RunStarted:
        """Start a pipeline run, resolving (or registering and creating) its model version."""

    def complete_step(self, run_id: str, step: str, outputs: Sequence[OutputSpec | OutputBytes] = (), *,
                      cached: bool = False, cache_key: str | None = None, duration_ms: float = 0.0) -> StepRecorded:
        """Record a completed step: its artifact versions, linked to the run's model version. An output carried as
        bytes (``OutputBytes``) is stored first, refused unless it hashes to its declared SHA-256."""

    def finish_run(self, run_id: str, *, duration_ms: float = 0.0) -> RunFinished:
        """Mark a running run completed."""

    def fail_run(self, run_id: str, *, error_type: str, error_message: str, failed_step: str | None = None,
                 delete_created_version: bool = False, duration_ms: float = 0.0) -> RunFinished:
        """Mark a running run failed (optionally deleting the version it created, reason pipeline_failure)."""

    def get_run(self, run_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> RunView:
        """A run by id."""

    def list_runs(self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50,
                  as_of: datetime | None = None, at_position: int | None = None) -> list[RunView]:
        """The most recent runs, newest first."""

    def list_run_steps(self, run_id: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> list[StepView]:
        """The completed steps of a run, in completion order."""

    def find_cached_step(self, cache_key: str) -> list[dict[str, Any]] | None:
        """The outputs of the latest successful step with this cache key, or None."""

    # --- artifacts -----------------------------------------------------------------

    def get_artifact(self, artifact_id: str, *, as_of: datetime | None = None,
                     at_position: int | None = None) -> ArtifactView:
        """A stored artifact version by id."""

    def list_artifacts(self, *, as_of: datetime | None = None, at_position: int | None = None) -> list[ArtifactView]:
        """Every stored artifact version, by name and version."""

    def store_blob(self, data: bytes) -> StoredBlob:
        """Write bytes to the content-addressed artifact store (idempotent); where they are and their hash."""

    def open_artifact(self, artifact_id: str) -> ArtifactContent:
        """An artifact version as the log records it, with its bytes to be read once in chunks, each hashed as it
        passes (ArtifactIntegrityError when they do not match): nothing holds the whole file; close it after use."""

    def verify_artifacts(self) -> ArtifactReport:
        """Hash every artifact file the log refers to; report missing or modified ones and view rows that differ."""

    # --- the log and the read models -----------------------------------------------

    def log_events(self, *, from_position: int = 1, limit: int = 100, streams: Sequence[str] = (),
                   as_of: datetime | None = None, at_position: int | None = None) -> list[StoredEvent]:
        """Events of the log in position order."""

    def log_head(self, *, as_of: datetime | None = None, at_position: int | None = None) -> Anchor:
        """The last position and its hash: an audit anchor."""

    def verify_log(self, anchors: Iterable[Anchor] = (), *, rules: bool = False, public_keys: Sequence[PublicKey] = (),
                   checkpoints: Sequence[Checkpoint] = ()) -> LogVerification:
        """Walk the hash chain (and check the anchors and signed checkpoints; with ``public_keys``, that every event
        since signing began is signed by one of them; with ``rules``, replay the log through the domain's rules);
        never raises for a broken log, reports it."""

    def log_checkpoint(self) -> Checkpoint:
        """A signed statement of the log's last position and hash (and first event's hash, and the time), made
        with the registry's signing key, for an auditor to keep elsewhere."""

    def export_log(self, out: IO[str], progress: Progress | None = None) -> int:
        """Write the whole log as JSON Lines (then an end record); the number of events."""

    def import_log(self, source: IO[str], progress: Progress | None = None) -> int:
        """Import an exported log into an empty registry, verified first; all or nothing."""

    def export_bundle(self, out: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Write the log and every artifact file it refers to (each verified while copied) as one tar bundle."""

    def import_bundle(self, source: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Import a bundle or a log-only export (detected; ``source`` seekable) into an empty registry and its
        artifact store, every artifact's hash verified; all or nothing."""

    def verify_projections(self) -> VerifyViewsReport:
        """Compare the read models with a fresh replay of the log."""

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> RebuildReport:
        """Reset the read models and replay the whole log into them."""

    # --- everyday use: describe, compare, metadata, completion -----------------------

    def describe_model(self, name: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> ModelDescription:
        """A model with its versions by stage, aliases and latest activity."""

    def describe_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                         at_position: int | None = None) -> VersionDescription:
        """A version with its metadata, metrics, tags, artifacts, runs and stage history."""

    def compare_versions(self, model: str, versions: Sequence[VersionRef], *, as_of: datetime | None = None,
                         at_position: int | None = None) -> VersionComparison:
        """Two or more versions of a model described side by side."""

    def list_model_summaries(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                             page: int = 1, size: int = 50, as_of: datetime | None = None,
                             at_position: int | None = None) -> Page[ModelSummary]:
        """A page of models with their production and staging versions and who changed each last."""

    def search_versions(self, model: str, *, stage: str | None = None, sort_by: str = "number",
                        filters: Sequence[str] = (), as_of: datetime | None = None,
                        at_position: int | None = None) -> list[VersionRow]:
        """The versions of a model with their current metadata, filtered (``metric:accuracy>0.9``) and sorted
        (``number``, ``created``, ``updated``, ``metric:KEY`` highest first, ``metadata:KEY``)."""

    def log_metadata(self, model: str, version: VersionRef, values: Mapping[str, Any]) -> VersionChanged:
        """Log metadata (numbers, texts, booleans, nested lists / objects) on a version; every value is kept."""

    def complete(self, kind: str, prefix: str = "", *, model: str | None = None, limit: int = 50) -> list[str]:
        """Completion candidates (kind: model, version, run, artifact) starting with ``prefix``."""

    # --- principals and API tokens ---------------------------------------------------

    def add_principal(self, name: str) -> PrincipalChanged:
        """Add a principal (a person or a pipeline) that API tokens can be issued to."""

    def disable_principal(self, name: str) -> PrincipalChanged:
        """Disable a principal: its tokens are refused from the next request on, and it gets no new ones."""

    def list_principals(self, *, as_of: datetime | None = None,
                        at_position: int | None = None) -> list[PrincipalView]:
        """Every principal, by name."""

    def create_token(self, principal: str, *, expires: str | None = None) -> TokenChanged:
        """Issue an API token (``expires``: a duration such as ``30d``); the answer alone carries the token."""

    def list_tokens(self, *, principal: str | None = None, as_of: datetime | None = None,
                    at_position: int | None = None) -> list[TokenView]:
        """Every API token issued (optionally to one principal), oldest first; never a secret or a hash."""

    def revoke_token(self, token_id: str) -> TokenChanged:
        """Revoke an API token by id: it is refused from the next request on."""

    # --- roles, stage policies and four-eyes approvals ------------------------------------

    def grant_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Grant a role (viewer, contributor, maintainer, admin), registry-wide or on one model."""

    def revoke_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Revoke a role the principal holds in that scope."""

    def describe_principal(self, name: str, *, as_of: datetime | None = None,
                           at_position: int | None = None) -> PrincipalDescription:
        """A principal, the roles it holds and its API tokens."""

    def set_stage_policy(self, stage: str, approvals: int, *, model: str | None = None) -> PolicyChanged:
        """Require ``approvals`` approvals (0: none) for moves into staging or production, registry-wide or on one
        model (a model's own policy overrides the registry-wide one)."""

    def list_stage_policies(self, *, as_of: datetime | None = None,
                            at_position: int | None = None) -> list[StagePolicy]:
        """Every stage policy in force."""

    def request_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request moving a version into a protected stage (``expires``: a duration, default 7 days)."""

    def approve_stage_request(self, model: str, version: VersionRef, *,
                              stage: str | None = None) -> StageRequestChanged:
        """Approve the pending request of a version (never one's own); the last approval needed moves it."""

    def reject_stage_request(self, model: str, version: VersionRef, *, stage: str | None = None,
                             reason: str | None = None) -> StageRequestChanged:
        """Reject the pending request of a version (its requester: withdraw it)."""

    def list_stage_requests(self, model: str, *, version: int | None = None, status: str | None = None,
                            as_of: datetime | None = None, at_position: int | None = None) -> list[StageRequestView]:
        """A model's stage change requests (optionally of one version, in one status), oldest first."""

    # --- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Release every connection the implementation holds."""

    def __enter__(self) -> RegistryAPI:
        """Use as a context manager: closed on exit."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close."""
