"""The read use cases, in process: queries of the read models (live or at a past point), the log, artifacts.

Nothing here loads the write side (pydantic's event classes), so a read command starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from modelog.application import everyday
from modelog.application.api import Progress, VersionRef
from modelog.application.artifact_content import ArtifactContent
from modelog.application.artifact_log import checked_against_log
from modelog.application.artifacts import ArtifactReport, verify_artifacts
from modelog.application.bootstrap import Reader
from modelog.application.governance_reads import GovernanceReads
from modelog.application.results import LogVerification
from modelog.projections import activity, describe
from modelog.projections.history import HistoryEntry
from modelog.projections.identity import PrincipalView, TokenView
from modelog.projections.queries import ReadModel
from modelog.projections.rebuild import RebuildReport, VerifyViewsReport, rebuild, tamper_evidence, verify
from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView, StepView, VersionView
from modelog.registry._sql.bulk import cyclic_gc_paused
from modelog.registry.anchors import Anchor, check_anchors, head_anchor
from modelog.registry.artifact_store import ArtifactStore, StoredBlob, read_chunks, resolve_store_root
from modelog.registry.checkpoints import Checkpoint, check_checkpoint, make_checkpoint
from modelog.registry.errors import ArtifactIntegrityError, InvalidInputError
from modelog.registry.recorder import format_time, utc_now
from modelog.registry.signing import MAX_NAMED, PublicKey, SignatureProblem, SignatureReport, check_signatures
from modelog.registry.store import StoredEvent
from modelog.registry.transfer import export_log, import_log
from modelog.registry.validation import MAX_POSITION

if TYPE_CHECKING:
    from modelog.application.bundle import Transferred


class ReadUseCases(GovernanceReads):
    """Every read of one open registry, and the passes over its whole log (verify, export, import, rebuild)."""

    def __init__(self, reader: Reader, *, artifact_root: str | None = None) -> None:
        self.reader = reader
        self._artifact_root = artifact_root
        self._artifacts: ArtifactStore | None = None

    @property
    def reads(self) -> ReadModel:
        """The read models' queries."""
        return self.reader.reads

    @property
    def artifact_store(self) -> ArtifactStore:
        """The content-addressed artifact store (``<home>/artifacts`` unless configured)."""
        if self._artifacts is None:
            self._artifacts = ArtifactStore(resolve_store_root(self.reader.home, self._artifact_root))
        return self._artifacts

    def resolve_point(self, as_of: datetime | None = None, at_position: int | None = None) -> int | None:
        """The log position a read refers to (None: live)."""
        return self.reads.resolve_point(as_of, at_position)

    # --- models and versions -------------------------------------------------------

    def list_models(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                    page: int = 1, size: int = 50, as_of: datetime | None = None,
                    at_position: int | None = None) -> Page[ModelView]:
        """A page of live models, optionally filtered by name substring and tag."""
        return self.reads.list_models(name=name, tag=tag, sort_by=sort_by, page=page, size=size, as_of=as_of,
                                      at_position=at_position)

    def get_model(self, name: str, *, as_of: datetime | None = None, at_position: int | None = None) -> ModelView:
        """One model by name."""
        return self.reads.get_model(name, as_of=as_of, at_position=at_position)

    def history(self, model: str, *, include_runs: bool = False, as_of: datetime | None = None,
                at_position: int | None = None) -> list[HistoryEntry]:
        """Every event of a model's stream, oldest first; optionally its runs' events; grants of roles on it."""
        point = self.reads.resolve_point(as_of, at_position)
        return self.with_grants(self.reads.history(model, include_runs=include_runs, at_position=point), point)

    def history_page(self, model: str, *, actor: str | None = None, kind: str | None = None, page: int = 1,
                     size: int = 100, as_of: datetime | None = None,
                     at_position: int | None = None) -> activity.HistoryPage:
        """A page of a model's history, newest first, filtered by actor and event kind (with their choices)."""
        return activity.read_history_page(self.reads, model, self.resolve_point(as_of, at_position), actor=actor,
                                          kind=kind, page=page, size=size)

    def stage_timeline(self, model: str, *, low: int | None = None, high: int | None = None,
                       as_of: datetime | None = None, at_position: int | None = None) -> activity.Timeline:
        """A model's stage timeline: one lane per version ever created (numbers ``low``..``high`` when given)."""
        return activity.read_stage_timeline(self.reads, model, self.resolve_point(as_of, at_position), low=low,
                                            high=high)

    def list_versions(self, model: str, *, stage: str | None = None, as_of: datetime | None = None,
                      at_position: int | None = None) -> list[VersionView]:
        """Every live version of a model (optionally only those in ``stage``), by number."""
        return self.reads.list_versions(model, stage=stage, as_of=as_of, at_position=at_position)

    def get_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                    at_position: int | None = None) -> VersionView:
        """The version a selector names."""
        return self.reads.get_version(model, version, as_of=as_of, at_position=at_position)

    def list_links(self, model: str, version: VersionRef = None, *, kind: str | None = None,
                   as_of: datetime | None = None, at_position: int | None = None) -> list[LinkView]:
        """Artifacts linked to a version, in link order."""
        return self.reads.list_links(model, version, kind=kind, as_of=as_of, at_position=at_position)

    def list_version_runs(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> list[RunView]:
        """Runs linked to a version, in link order."""
        return self.reads.list_version_runs(model, version, as_of=as_of, at_position=at_position)

    # --- runs and artifacts --------------------------------------------------------

    def get_run(self, run_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> RunView:
        """A run by id (or a unique prefix of it)."""
        return self.reads.get_run(everyday.resolve_id(self.reads, "run", run_id), as_of=as_of, at_position=at_position)

    def list_runs(self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50,
                  as_of: datetime | None = None, at_position: int | None = None) -> list[RunView]:
        """The most recent runs, newest first."""
        return self.reads.list_runs(pipeline=pipeline, status=status, limit=limit, as_of=as_of,
                                    at_position=at_position)

    def list_run_steps(self, run_id: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> list[StepView]:
        """The completed steps of a run (by id or a unique prefix of it), in completion order."""
        return self.reads.list_run_steps(everyday.resolve_id(self.reads, "run", run_id), as_of=as_of,
                                         at_position=at_position)

    def find_cached_step(self, cache_key: str) -> list[dict[str, Any]] | None:
        """The outputs of the latest successful step with this cache key, or None."""
        return self.reads.find_cached_step(cache_key)

    def get_artifact(self, artifact_id: str, *, as_of: datetime | None = None,
                     at_position: int | None = None) -> ArtifactView:
        """A stored artifact version by id (or a unique prefix of it)."""
        return self.reads.get_artifact(everyday.resolve_id(self.reads, "artifact", artifact_id), as_of=as_of,
                                       at_position=at_position)

    def list_artifacts(self, *, as_of: datetime | None = None, at_position: int | None = None) -> list[ArtifactView]:
        """Every stored artifact version."""
        return self.reads.list_artifacts(as_of=as_of, at_position=at_position)

    def list_principals(self, *, as_of: datetime | None = None,
                        at_position: int | None = None) -> list[PrincipalView]:
        """Every principal, by name."""
        return self.reads.list_principals(as_of=as_of, at_position=at_position)

    def list_tokens(self, *, principal: str | None = None, as_of: datetime | None = None,
                    at_position: int | None = None) -> list[TokenView]:
        """Every API token issued (optionally to one principal), oldest first; never a secret or a hash."""
        return self.reads.list_tokens(principal=principal, as_of=as_of, at_position=at_position)

    def store_blob(self, data: bytes) -> StoredBlob:
        """Write bytes to the content-addressed store (once per distinct content)."""
        return self.artifact_store.put(data)

    def open_artifact(self, artifact_id: str) -> ArtifactContent:
        """An artifact version as the log records it, and its store file opened to be read in chunks, each hashed
        as it is read (see :class:`ArtifactContent`); the caller closes it."""
        view = self.get_artifact(artifact_id)
        logged = checked_against_log(self.reader.store, view)  # after this, ``view`` agrees with the log
        try:
            handle, size = self.artifact_store.open_content(logged.uri, label=logged.label)
        except ArtifactIntegrityError as error:
            raise ArtifactIntegrityError(f"{error} (expected sha256 {logged.content_hash}); refusing to load it"
                                         ) from None
        return ArtifactContent(view, read_chunks(handle, size), size=size, local=handle, close=handle.close,
                               source=str(self.artifact_store.path_for(logged.uri)))

    def verify_artifacts(self) -> ArtifactReport:
        """Hash every artifact file the log refers to, and compare the read model with the log."""
        return verify_artifacts(self.reader.store, self.reads, self.artifact_store)

    # --- the log and the read models -----------------------------------------------

    def log_events(self, *, from_position: int = 1, limit: int = 100, streams: Sequence[str] = (),
                   as_of: datetime | None = None, at_position: int | None = None) -> list[StoredEvent]:
        """Events of the log in position order."""
        if isinstance(from_position, bool) or not isinstance(from_position, int) \
                or not 1 <= from_position <= MAX_POSITION:
            raise InvalidInputError(f"from position must be between 1 and {MAX_POSITION}, got {from_position!r}")
        until = self.reads.resolve_point(as_of, at_position, whole_commands=False)  # the log itself, event by event
        return list(self.reader.store.read_all(from_position=from_position, to_position=until, limit=limit,
                                               stream_ids=list(streams) or None))

    def head_position(self) -> int:
        """The position of the log's last event (0 for an empty log): one indexed query, for a caller that only
        needs to know whether the log (and with it every read model) has moved."""
        return self.reader.store.head()

    def log_head(self, *, as_of: datetime | None = None, at_position: int | None = None) -> Anchor:
        """The last position (or the one asked for) and its hash."""
        return head_anchor(self.reader.store, self.reads.resolve_point(as_of, at_position, whole_commands=False))

    def verify_log(self, anchors: Iterable[Anchor] = (), *, rules: bool = False, public_keys: Sequence[PublicKey] = (),
                   checkpoints: Sequence[Checkpoint] = ()) -> LogVerification:
        """Walk the hash chain, look for the guards and traces of removed events; check the anchors, the signed
        checkpoints, with ``public_keys`` every event's signature since signing began, and with ``rules`` the
        domain's rules. Reads only."""
        store = self.reader.store
        report = store.verify()
        tampering = tuple(tamper_evidence(self.reader.engine, store))
        if not report.ok:
            return LogVerification(report.checked, report.first_bad_position, report.problem, tampering=tampering)
        wanted = set(anchors)
        problem = check_anchors(store, wanted) if wanted else None
        verified = LogVerification(report.checked, anchors_checked=len(wanted), anchor_problem=problem,
                                   tampering=tampering)
        if checkpoints:
            head = store.head()
            contradicted = next(filter(None, (check_checkpoint(c, public_keys, head, self._hash_at)
                                              for c in sorted(checkpoints, key=lambda c: c.position))), None)
            verified = replace(verified, checkpoints_checked=len(checkpoints), checkpoint_problem=contradicted)
        if public_keys:
            signatures = check_signatures(store.read_signed(), public_keys)
            verified = replace(verified, **_signature_fields(signatures, self._described(signatures.problems)))
        if not rules:
            return verified
        from modelog.registry.rules import first_breach  # pydantic: loaded only when the rules are checked

        with cyclic_gc_paused():  # the replay holds every stream's state: many small objects, none cyclic garbage
            obeyed, breach = first_breach(store.read_all(to_position=store.head()))
        if breach is None:
            return replace(verified, rules_checked=obeyed)
        return replace(verified, rules_checked=obeyed, rule_position=breach.position, rule_problem=breach.problem)

    def _described(self, problems: Sequence[SignatureProblem]) -> tuple[str, ...]:
        """Each ``position N: problem`` line with the event's type and recorded actor (who it claims to be)."""
        described = []
        for problem in problems:
            p = problem.position
            found = next(iter(self.reader.store.read_all(from_position=p, to_position=p, limit=1)), None)
            if found is None:
                described.append(str(problem))
                continue
            actor = found.meta.get("actor")
            described.append(f"{problem} ({found.event_type} on {found.stream_id}, recorded actor {actor!r})")
        return tuple(described)

    def _hash_at(self, position: int) -> str | None:
        found = next(iter(self.reader.store.read_all(from_position=position, to_position=position, limit=1)), None)
        return None if found is None else found.hash

    def log_checkpoint(self) -> Checkpoint:
        """A checkpoint of the log's last position, signed with this registry's signing key (MODELOG_SIGNING_KEY)."""
        signer = self.reader.store.signer
        if signer is None:
            raise InvalidInputError("no signing key is configured: set MODELOG_SIGNING_KEY to the private key file "
                                    "('modelog keys generate') to sign a checkpoint")
        head = self.reader.store.log_head()
        first = self._hash_at(1)
        if head.position == 0 or first is None:
            raise InvalidInputError("the log is empty: there is nothing to checkpoint yet")
        return make_checkpoint(head.position, head.hash, first, format_time(utc_now()), signer)

    def export_log(self, out: IO[str], progress: Progress | None = None) -> int:
        """Write the whole log as JSON Lines; the number of events."""
        return export_log(self.reader.store, out, progress)

    def import_log(self, source: IO[str], progress: Progress | None = None) -> int:
        """Import an exported log into an empty registry, all or nothing."""
        return import_log(self.reader.store, source, progress)

    def export_bundle(self, out: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Write the log and every artifact file it refers to (each verified while copied) as one tar bundle."""
        from modelog.application.bundle import export_bundle  # not at start-up: read commands stay light

        return export_bundle(self.reader.store, self.artifact_store, out, progress)

    def import_bundle(self, source: IO[bytes], progress: Progress | None = None) -> Transferred:
        """Import a bundle or a log-only export (detected) into an empty registry and its artifact store; all or
        nothing."""
        from modelog.application.bundle import import_any

        return import_any(self.reader.store, self.artifact_store, source, progress)

    def verify_projections(self) -> VerifyViewsReport:
        """Compare the read models with a fresh replay of the log."""
        return verify(self.reader.engine, self.reader.store)

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> RebuildReport:
        """Reset the read models and replay the whole log."""
        return rebuild(self.reader.engine, self.reader.store, progress=progress)

    # --- everyday use: describe, compare, search by metadata, completion ----------------

    def describe_model(self, name: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> describe.ModelDescription:
        """A model with its versions by stage, aliases and latest activity."""
        return describe.describe_model(self.reads, name, self.resolve_point(as_of, at_position))

    def describe_version(self, model: str, version: VersionRef = None, *, as_of: datetime | None = None,
                         at_position: int | None = None) -> describe.VersionDescription:
        """A version with its metadata, metrics, tags, artifacts, runs and stage history."""
        return describe.describe_version(self.reads, model, version, self.resolve_point(as_of, at_position))

    def compare_versions(self, model: str, versions: Sequence[VersionRef], *, as_of: datetime | None = None,
                         at_position: int | None = None) -> describe.VersionComparison:
        """Two or more versions of a model described side by side."""
        return everyday.compare_versions(self.reads, model, versions, self.resolve_point(as_of, at_position))

    def list_model_summaries(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                             page: int = 1, size: int = 50, as_of: datetime | None = None,
                             at_position: int | None = None) -> Page[describe.ModelSummary]:
        """A page of models with their production and staging versions and who changed each last."""
        return describe.list_model_summaries(self.reads, name=name, tag=tag, sort_by=sort_by, page=page, size=size,
                                             position=self.resolve_point(as_of, at_position))

    def search_versions(self, model: str, *, stage: str | None = None, sort_by: str = "number",
                        filters: Sequence[str] = (), as_of: datetime | None = None,
                        at_position: int | None = None) -> list[describe.VersionRow]:
        """The versions of a model with their current metadata, filtered (``metric:accuracy>0.9``) and sorted
        (``number``, ``created``, ``updated``, ``metric:KEY`` highest first, ``metadata:KEY``)."""
        return everyday.search_versions(self.reads, model, stage=stage, sort_by=sort_by, filters=filters,
                                        position=self.resolve_point(as_of, at_position))

    def complete(self, kind: str, prefix: str = "", *, model: str | None = None, limit: int = 50) -> list[str]:
        """Completion candidates: model names, version selectors of ``model``, or run ids, starting with prefix."""
        return everyday.complete(self.reads, kind, prefix, model, limit)


def _signature_fields(report: SignatureReport, problems: tuple[str, ...]) -> dict[str, Any]:
    """A signature check as ``LogVerification`` fields (``problems``: its named positions, described)."""
    failed = None if report.ok else report.summary()
    if failed and report.failures > MAX_NAMED:
        failed += f" (the first {MAX_NAMED} are named)"
    return {"signatures_checked": report.checked, "signed_from": report.signed_from,
            "unsigned_before": report.before, "signature_failures": report.failures,
            "signature_problems": problems, "signature_problem": failed,
            "signature_summary": report.summary() if report.ok else None}
