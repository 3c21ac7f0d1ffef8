"""The SDK client: everything the registry can do, from Python, over the service API.

``Client()`` connects on first use to the registry named by ``$MODELOG_DATABASE_URL`` /
``$MODELOG_HOME`` (or explicit arguments); ``Client(api=...)`` stands on any implementation
of :class:`~modelog.application.api.RegistryAPI`. Pipelines run against the *active* client:
the one entered with ``with Client(...):``, else a default client for the current environment.
Every read takes ``as_of=`` / ``at_position=``; every change is an event in the log.
"""

from __future__ import annotations

import contextvars
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from modelog.application.api import ABANDONED, DEFAULT_ABANDON_REASON, RegistryAPI
from modelog.application.local import LocalRegistry, connect
from modelog.sdk.downloads import download_verified, load_verified
from modelog.sdk.errors import ConfigError, concise_errors
from modelog.sdk.model_version import ModelVersion

if TYPE_CHECKING:
    from modelog.application.artifacts import ArtifactReport
    from modelog.application.bootstrap import Registry
    from modelog.application.results import (
        AliasMoved,
        AliasRemoved,
        LogVerification,
        ModelChanged,
        RoleChanged,
        RunFinished,
        StageChanged,
        StageRequestChanged,
        StoredEvent,
        VersionUpdate,
    )
    from modelog.projections.describe import ModelDescription, VersionComparison, VersionDescription, VersionRow
    from modelog.projections.governance import StageRequestView
    from modelog.projections.history import HistoryEntry
    from modelog.projections.rebuild import RebuildReport, VerifyViewsReport
    from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView, StepView
    from modelog.registry.anchors import Anchor
    from modelog.registry.artifact_store import ArtifactStore
    from modelog.registry.checkpoints import Checkpoint
    from modelog.registry.signing import PublicKey

_ACTIVE: contextvars.ContextVar[Client | None] = contextvars.ContextVar("modelog_active_client", default=None)
_DEFAULTS: dict[tuple[str | None, ...], Client] = {}


def _selector(version: Any) -> Any:
    """A version selector as the API takes it (``ModelStages.PRODUCTION`` -> ``"production"``); the API validates it."""
    return getattr(version, "value", version)


def _stage(stage: Any) -> str | None:
    """A stage name (``ModelStages.STAGING`` or ``"staging"``), None for no stage."""
    value = _selector(stage)
    return None if value is None else str(value)


@concise_errors
class Client:
    """Read and change the registry from Python; every change is an event in the log."""

    def __init__(self, url: str | None = None, *, home: str | os.PathLike[str] | None = None,
                 artifact_store: str | os.PathLike[str] | None = None, registry: Registry | None = None,
                 actor: str | None = None, api: RegistryAPI | None = None) -> None:
        self._url, self._home, self._actor = url, home, actor
        self._artifact_store = artifact_store
        if api is None and registry is not None:
            root = None if artifact_store is None else os.fspath(artifact_store)
            api = LocalRegistry.over(registry, artifact_root=root)
        self._api = api
        self._owns_api = api is None
        self._tokens: list[contextvars.Token[Client | None]] = []

    # --- plumbing ------------------------------------------------------------------

    @property
    def api(self) -> RegistryAPI:
        """The service API this client calls (connected on first use)."""
        if self._api is None:
            self._api = connect(self._url, home=self._home, actor=self._actor, artifact_store=self._artifact_store,
                                writable=True)
        return self._api

    @property
    def artifact_store(self) -> ArtifactStore:
        """The local artifact store (in-process registries only)."""
        api = self.api
        if not isinstance(api, LocalRegistry):
            raise TypeError("this client's registry is not in this process; it has no local artifact store")
        return api.artifact_store

    def close(self) -> None:
        """Close the connection if this client opened it."""
        if self._api is not None and self._owns_api:
            self._api.close()
            self._api = None

    def __enter__(self) -> Client:
        self._tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())
        self.close()

    # --- models --------------------------------------------------------------------

    def get_model(self, name: str, *, as_of: datetime | None = None, at_position: int | None = None) -> ModelView:
        """One model by name (as it was at ``as_of`` / ``at_position``)."""
        return self.api.get_model(name, as_of=as_of, at_position=at_position)

    def list_models(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                    page: int = 1, size: int = 50, as_of: datetime | None = None,
                    at_position: int | None = None) -> Page[ModelView]:
        """A page of models, optionally filtered by name substring or tag."""
        return self.api.list_models(name=name, tag=tag, sort_by=sort_by, page=page, size=size, as_of=as_of,
                                    at_position=at_position)

    def register_model(self, name: str, *, tags: Sequence[str] = (), **fields: str | None) -> ModelView:
        """Register a model (fields: license, description, audience, use_cases, limitations, trade_offs, ethics)."""
        done = self.api.register_model(name, fields=fields, tags=tuple(tags))
        return self.get_model(done.model_name)

    def update_model(self, name: str, *, add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
                     **changes: str | None) -> ModelView:
        """Change text fields of a model and add/remove tags."""
        done = self.api.update_model(name, changes=changes, add_tags=tuple(add_tags), remove_tags=tuple(remove_tags))
        return self.get_model(done.model_name)

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a model (its history stays in the log)."""
        return self.api.delete_model(name)

    def rename_model(self, name: str, new_name: str) -> ModelView:
        """Give a model a new name (its versions, aliases, stages, tags, grants and history go with it); the model
        as it is now."""
        done = self.api.rename_model(name, new_name)
        return self.get_model(done.model_name)

    def history(self, model: str, *, as_of: datetime | None = None, at_position: int | None = None,
                include_runs: bool = False) -> list[HistoryEntry]:
        """A model's history, oldest first (deleted models too)."""
        return self.api.history(model, as_of=as_of, at_position=at_position, include_runs=include_runs)

    # --- versions ------------------------------------------------------------------

    def get_model_version(self, model: str, version: Any = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> ModelVersion:
        """The version a selector names: number, name, stage, ``latest`` (None) or ``@alias``."""
        position = self.api.resolve_point(as_of, at_position)
        view = self.api.get_version(model, _selector(version), at_position=position)
        return ModelVersion(self, view.model_name, view.number, position=position)

    def list_model_versions(self, model: str, *, stage: Any = None, as_of: datetime | None = None,
                            at_position: int | None = None) -> list[ModelVersion]:
        """Every live version of a model (optionally only those in ``stage``), by number."""
        position = self.api.resolve_point(as_of, at_position)
        views = self.api.list_versions(model, stage=_stage(stage), at_position=position)
        return [ModelVersion(self, v.model_name, v.number, position=position) for v in views]

    def create_model_version(self, model: str, *, name: str | None = None, description: str | None = None,
                             tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> ModelVersion:
        """Create the next version of an existing model (``metadata`` logged on it in the same transaction)."""
        done = self.api.create_version(model, name=name, description=description, tags=tuple(tags),
                                       metadata=metadata)
        return ModelVersion(self, done.model_name, done.number)

    def update_model_version(self, model: str, version: Any, *, stage: Any = None, force: bool = False,
                             name: str | None = None, description: str | None = None,
                             set_aliases: Sequence[str] = (), remove_aliases: Sequence[str] = (),
                             add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
                             metadata: Mapping[str, Any] | None = None) -> VersionUpdate:
        """Promote, rename, describe, alias, tag and log metadata on one version together (all or nothing)."""
        return self.api.update_version(model, _selector(version), stage=_stage(stage), force=force, name=name,
                                       description=description, set_aliases=tuple(set_aliases),
                                       remove_aliases=tuple(remove_aliases), add_tags=tuple(add_tags),
                                       remove_tags=tuple(remove_tags), metadata=metadata)

    def set_stage(self, model: str, version: Any, stage: Any, *, force: bool = False) -> StageChanged:
        """Move a version into a stage; ``force`` archives the version currently holding it."""
        return self.api.set_stage(model, _selector(version), str(_stage(stage)), force=force)

    def set_alias(self, model: str, version: Any, alias: str) -> AliasMoved:
        """Point ``alias`` at a version (moving it from another version)."""
        return self.api.set_alias(model, _selector(version), alias)

    def remove_alias(self, model: str, alias: str) -> AliasRemoved:
        """Remove ``alias`` from whichever version holds it."""
        return self.api.remove_alias(model, alias)

    def delete_model_version(self, model: str, version: Any) -> None:
        """Delete a version (reason: user)."""
        self.api.delete_version(model, _selector(version))

    def list_artifact_links(self, model: str, version: Any = None, *, kind: str | None = None,
                            as_of: datetime | None = None, at_position: int | None = None) -> list[LinkView]:
        """Artifacts linked to a version (kind: data, model, deployment)."""
        return self.api.list_links(model, _selector(version), kind=kind, as_of=as_of, at_position=at_position)

    def list_version_runs(self, model: str, version: Any = None, *, as_of: datetime | None = None,
                          at_position: int | None = None) -> list[RunView]:
        """Runs linked to a version."""
        return self.api.list_version_runs(model, _selector(version), as_of=as_of, at_position=at_position)

    # --- runs ----------------------------------------------------------------------

    def get_run(self, run_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> RunView:
        """A pipeline run by id."""
        return self.api.get_run(run_id, as_of=as_of, at_position=at_position)

    def list_runs(self, *, pipeline: str | None = None, status: str | None = None, limit: int = 50,
                  as_of: datetime | None = None, at_position: int | None = None) -> list[RunView]:
        """The most recent runs, newest first (optionally one pipeline's, or one status)."""
        return self.api.list_runs(pipeline=pipeline, status=status, limit=limit, as_of=as_of,
                                  at_position=at_position)

    def list_run_steps(self, run_id: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> list[StepView]:
        """The completed steps of a run, with their outputs."""
        return self.api.list_run_steps(run_id, as_of=as_of, at_position=at_position)

    def fail_run(self, run_id: str, *, reason: str | None = None) -> RunFinished:
        """Close a run whose process died: failed with error type ``Abandoned`` (nothing else changes)."""
        return self.api.fail_run(run_id, error_type=ABANDONED, error_message=reason or DEFAULT_ABANDON_REASON)

    # --- artifacts -----------------------------------------------------------------

    def get_artifact(self, artifact_id: str, *, as_of: datetime | None = None,
                     at_position: int | None = None) -> ArtifactView:
        """A stored artifact version by id."""
        return self.api.get_artifact(artifact_id, as_of=as_of, at_position=at_position)

    def list_artifacts(self, *, as_of: datetime | None = None, at_position: int | None = None) -> list[ArtifactView]:
        """Every stored artifact version."""
        return self.api.list_artifacts(as_of=as_of, at_position=at_position)

    def load_artifact(self, artifact_id: str) -> Any:
        """Load an artifact version, refusing it if the stored file does not match the logged hash."""
        return load_verified(self.api, artifact_id)[1]

    def download_artifact(self, artifact_id: str, path: str | os.PathLike[str]) -> ArtifactView:
        """Write an artifact version's bytes to ``path`` as they stream in (never held whole in memory), hashed as
        they come; ``path`` appears, renamed into place, only once they matched the logged hash. A mismatch or
        a cut transfer raises and leaves nothing behind."""
        return download_verified(self.api, artifact_id, Path(path))

    def verify_artifacts(self) -> ArtifactReport:
        """Check every stored artifact file against the hash in the log."""
        return self.api.verify_artifacts()

    # --- the log -------------------------------------------------------------------

    def log_events(self, *, from_position: int = 1, limit: int = 100, streams: Sequence[str] = (),
                   as_of: datetime | None = None, at_position: int | None = None) -> list[StoredEvent]:
        """Events of the log in position order."""
        return self.api.log_events(from_position=from_position, limit=limit, streams=streams, as_of=as_of,
                                   at_position=at_position)

    def log_head(self, *, as_of: datetime | None = None, at_position: int | None = None) -> Anchor:
        """The log's last position and hash: an audit anchor to keep elsewhere."""
        return self.api.log_head(as_of=as_of, at_position=at_position)

    def verify_log(self, anchors: Iterable[Anchor] = (), *, rules: bool = False, public_keys: Sequence[PublicKey] = (),
                   checkpoints: Sequence[Checkpoint] = ()) -> LogVerification:
        """Walk the hash chain (and check audit anchors and signed checkpoints; with ``public_keys``, that every event
        since signing began is signed by one of them; with ``rules``, replay the log through the domain's rules)."""
        return self.api.verify_log(anchors, rules=rules, public_keys=public_keys, checkpoints=checkpoints)

    def log_checkpoint(self) -> Checkpoint:
        """A checkpoint of the log's last position, signed with the registry's signing key: keep it elsewhere."""
        return self.api.log_checkpoint()

    def verify_projections(self) -> VerifyViewsReport:
        """Compare the read models with a fresh replay of the log."""
        return self.api.verify_projections()

    def rebuild_projections(self, progress: Callable[[int, int], None] | None = None) -> RebuildReport:
        """Reset the read models and replay the whole log into them."""
        return self.api.rebuild_projections(progress)

    def export(self, target: str | os.PathLike[str] | IO[str] | IO[bytes], *, log_only: bool = False) -> int:
        """Export the registry; the number of events.

        To a path: a bundle of the log and every artifact file it refers to (``log_only``: the log as
        JSON Lines), written whole or not at all. To an open text stream: the log as JSON Lines; to an
        open binary stream: a bundle.
        """
        from modelog.application.bundle import export_to_path

        if isinstance(target, str | os.PathLike):
            return export_to_path(self.api, Path(target), log_only=log_only).events
        if _is_text(target):
            return self.api.export_log(target)  # type: ignore[arg-type]
        if log_only:
            raise ConfigError("log_only=True needs a path or an open text stream")
        return self.api.export_bundle(target).events  # type: ignore[arg-type]

    def import_log(self, source: str | os.PathLike[str] | IO[str] | IO[bytes]) -> int:
        """Import a bundle or a log-only export (path, or open stream) into this empty registry; all or nothing.

        A bundle's artifact files are hashed while they are copied into this client's artifact store.
        Returns the number of events.
        """
        from modelog.application.bundle import import_from_path

        if isinstance(source, str | os.PathLike):
            return import_from_path(self.api, Path(source)).events
        if _is_text(source):
            return self.api.import_log(source)  # type: ignore[arg-type]
        return self.api.import_bundle(source).events  # type: ignore[arg-type]

    # --- everyday use: describe, compare, metadata --------------------------------------

    def describe_model(self, name: str, *, as_of: datetime | None = None,
                       at_position: int | None = None) -> ModelDescription:
        """A model with its versions by stage, aliases and latest activity."""
        return self.api.describe_model(name, as_of=as_of, at_position=at_position)

    def describe_model_version(self, model: str, version: Any = None, *, as_of: datetime | None = None,
                               at_position: int | None = None) -> VersionDescription:
        """A version with its metadata, metrics, tags, artifacts, runs and stage history."""
        return self.api.describe_version(model, _selector(version), as_of=as_of, at_position=at_position)

    def compare_model_versions(self, model: str, *versions: Any, as_of: datetime | None = None,
                               at_position: int | None = None) -> VersionComparison:
        """Two or more versions of a model described side by side."""
        return self.api.compare_versions(model, [_selector(v) for v in versions], as_of=as_of,
                                         at_position=at_position)

    def search_model_versions(self, model: str, *, stage: Any = None, sort_by: str = "number",
                              filters: Sequence[str] = (), as_of: datetime | None = None,
                              at_position: int | None = None) -> list[VersionRow]:
        """Versions with their current metadata, filtered (``metric:accuracy>0.9``) and sorted
        (``metric:accuracy``: highest first)."""
        return self.api.search_versions(model, stage=_stage(stage), sort_by=sort_by, filters=tuple(filters),
                                        as_of=as_of, at_position=at_position)

    def log_metadata(self, model: str, version: Any, values: Mapping[str, Any]) -> None:
        """Log metadata (metrics, parameters...) on a version; a key logged again keeps its earlier values."""
        self.api.log_metadata(model, _selector(version), values)

    # --- four-eyes stage changes and roles --------------------------------------------

    def request_stage(self, model: str, version: Any, stage: Any, *, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request moving a version into a protected stage; it moves once others approve (``expires``: a duration
        such as ``3d``, default 7 days)."""
        return self.api.request_stage(model, _selector(version), str(_stage(stage)), force=force, expires=expires)

    def approve(self, model: str, version: Any, *, stage: Any = None) -> StageRequestChanged:
        """Approve the pending stage change request of a version (never one's own); the last approval needed moves
        it (``stage_change`` of the answer)."""
        return self.api.approve_stage_request(model, _selector(version), stage=_stage(stage))

    def reject(self, model: str, version: Any, *, stage: Any = None, reason: str | None = None) -> StageRequestChanged:
        """Reject (or, as its requester, withdraw) the pending stage change request of a version."""
        return self.api.reject_stage_request(model, _selector(version), stage=_stage(stage), reason=reason)

    def stage_requests(self, model: str, *, version: int | None = None, status: str | None = None,
                       as_of: datetime | None = None, at_position: int | None = None) -> list[StageRequestView]:
        """A model's stage change requests, oldest first (as they stood at a past point if asked)."""
        return self.api.list_stage_requests(model, version=version, status=status, as_of=as_of,
                                            at_position=at_position)

    def grant(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Grant a role (viewer, contributor, maintainer, admin), registry-wide or on one model."""
        return self.api.grant_role(principal, role, model=model)

    def revoke(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Revoke a role held in that scope."""
        return self.api.revoke_role(principal, role, model=model)


def _is_text(stream: IO[str] | IO[bytes]) -> bool:
    return isinstance(stream, io.TextIOBase) or hasattr(stream, "encoding")


def active_client() -> Client:
    """The client pipelines use: the innermost ``with Client(...)``, else a default for the environment."""
    current = _ACTIVE.get()
    if current is not None:
        return current
    key = (os.environ.get("MODELOG_DATABASE_URL"), os.environ.get("MODELOG_HOME"),
           os.environ.get("MODELOG_ARTIFACT_STORE"), str(Path.home()))
    if key not in _DEFAULTS:
        _DEFAULTS[key] = Client()
    return _DEFAULTS[key]
