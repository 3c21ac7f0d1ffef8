"""The SDK client: models, versions, artifacts and history of one registry.

``Client()`` opens the registry named by ``$MODELOG_DATABASE_URL`` / ``$MODELOG_HOME``
(or explicit arguments) on first use. Pipelines run against the *active* client: the one
entered with ``with Client(...):``, else a default client for the current environment.
"""

from __future__ import annotations

import contextvars
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from modelog.projections.history import HistoryEntry
from modelog.projections.queries import ReadModel
from modelog.projections.views import ArtifactView, LinkView, ModelView, Page, RunView
from modelog.registry import commands as cmd
from modelog.registry.service import CommandService
from modelog.sdk.artifact_store import ArtifactStore, resolve_store_root
from modelog.sdk.bootstrap import Registry, open_registry
from modelog.sdk.materializers import deserialize
from modelog.sdk.model_version import ModelVersion

_ACTIVE: contextvars.ContextVar[Client | None] = contextvars.ContextVar("modelog_active_client", default=None)
_DEFAULTS: dict[tuple[str | None, ...], Client] = {}


class Client:
    """Read and change the registry from Python; every change is an event in the log."""

    def __init__(self, url: str | None = None, *, home: str | os.PathLike[str] | None = None,
                 artifact_store: str | os.PathLike[str] | None = None, registry: Registry | None = None,
                 actor: str | None = None) -> None:
        self._url, self._home, self._actor = url, home, actor
        self._artifact_store = artifact_store
        self._registry = registry
        self._owns_registry = registry is None
        self._store: ArtifactStore | None = None
        self._tokens: list[contextvars.Token[Client | None]] = []

    # --- plumbing ------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """The open registry (opened on first use)."""
        if self._registry is None:
            self._registry = open_registry(self._url, home=self._home, actor=self._actor)
        return self._registry

    @property
    def commands(self) -> CommandService:
        """The registry's command service."""
        return self.registry.commands

    @property
    def reads(self) -> ReadModel:
        """The registry's read model."""
        return self.registry.reads

    @property
    def artifact_store(self) -> ArtifactStore:
        """The artifact store (``<home>/artifacts`` unless configured)."""
        if self._store is None:
            self._store = ArtifactStore(resolve_store_root(self.registry.home, self._artifact_store))
        return self._store

    def close(self) -> None:
        """Close the registry if this client opened it."""
        if self._registry is not None and self._owns_registry:
            self._registry.close()
            self._registry = None

    def __enter__(self) -> Client:
        self._tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())
        self.close()

    def _position(self, as_of: datetime | None) -> int | None:
        return self.reads.resolve_point(as_of=as_of)

    # --- models --------------------------------------------------------------------

    def get_model(self, name: str, *, as_of: datetime | None = None) -> ModelView:
        """One model by name (as it was at ``as_of``)."""
        return self.reads.get_model(name, as_of=as_of)

    def list_models(self, *, name: str | None = None, tag: str | None = None, sort_by: str = "name",
                    page: int = 1, size: int = 50, as_of: datetime | None = None) -> Page[ModelView]:
        """A page of models, optionally filtered by name substring or tag."""
        return self.reads.list_models(name=name, tag=tag, sort_by=sort_by, page=page, size=size, as_of=as_of)

    def register_model(self, name: str, *, tags: tuple[str, ...] | list[str] = (), **fields: str | None) -> ModelView:
        """Register a model (fields: license, description, audience, use_cases, limitations, trade_offs, ethics)."""
        self.commands.execute(cmd.RegisterModel(name=name, fields=dict(fields), tags=tuple(tags)))
        return self.get_model(name)

    def update_model(self, name: str, *, add_tags: tuple[str, ...] | list[str] = (),
                     remove_tags: tuple[str, ...] | list[str] = (), **changes: str | None) -> ModelView:
        """Change text fields of a model and add/remove tags."""
        self.commands.execute(cmd.UpdateModel(model=name, changes=dict(changes), add_tags=tuple(add_tags),
                                              remove_tags=tuple(remove_tags)))
        return self.get_model(name)

    def delete_model(self, name: str) -> None:
        """Delete a model (its history stays in the log)."""
        self.commands.execute(cmd.DeleteModel(model=name))

    def history(self, model: str, *, as_of: datetime | None = None, include_runs: bool = False) -> list[HistoryEntry]:
        """A model's history, oldest first (deleted models too)."""
        return self.reads.history(model, as_of=as_of, include_runs=include_runs)

    # --- versions ------------------------------------------------------------------

    def get_model_version(self, model: str, version: Any = None, *, as_of: datetime | None = None) -> ModelVersion:
        """The version a selector names: number, name, stage, ``latest`` (None) or ``@alias``."""
        position = self._position(as_of)
        view = self.reads.get_version(model, getattr(version, "value", version), at_position=position)
        return ModelVersion(self, view.model_name, view.number, position=position)

    def list_model_versions(self, model: str, *, stage: str | None = None,
                            as_of: datetime | None = None) -> list[ModelVersion]:
        """Every live version of a model (optionally only those in ``stage``), by number."""
        position = self._position(as_of)
        stage_value = getattr(stage, "value", stage)
        views = self.reads.list_versions(model, stage=stage_value, at_position=position)
        return [ModelVersion(self, v.model_name, v.number, position=position) for v in views]

    def create_model_version(self, model: str, *, name: str | None = None,
                             description: str | None = None) -> ModelVersion:
        """Create the next version of an existing model."""
        result = self.commands.execute(cmd.CreateVersion(model=model, name=name, description=description))
        return ModelVersion(self, result.model_name, result.number)

    def delete_model_version(self, model: str, version: Any) -> None:
        """Delete a version (reason: user)."""
        self.commands.execute(cmd.DeleteVersion(model=model, version=getattr(version, "value", version)))

    def list_artifact_links(self, model: str, version: Any = None, *, kind: str | None = None,
                            as_of: datetime | None = None) -> list[LinkView]:
        """Artifacts linked to a version (kind: data, model, deployment)."""
        return self.reads.list_links(model, getattr(version, "value", version), kind=kind, as_of=as_of)

    def list_version_runs(self, model: str, version: Any = None, *, as_of: datetime | None = None) -> list[RunView]:
        """Runs linked to a version."""
        return self.reads.list_version_runs(model, getattr(version, "value", version), as_of=as_of)

    # --- runs and artifacts --------------------------------------------------------

    def get_run(self, run_id: str) -> RunView:
        """A pipeline run by id."""
        return self.reads.get_run(run_id)

    def get_artifact(self, artifact_id: str) -> ArtifactView:
        """A stored artifact version by id."""
        return self.reads.get_artifact(artifact_id)

    def load_artifact(self, artifact_id: str) -> Any:
        """Load an artifact version, refusing it if the stored file does not match the logged hash."""
        artifact = self.get_artifact(artifact_id)
        label = f"{artifact.name!r} v{artifact.version}"
        data = self.artifact_store.get(artifact.uri, artifact.content_hash, label=label)
        return deserialize(data, artifact.materializer)

    def verify_artifacts(self) -> Any:
        """Check every stored artifact file against the hash in the log (see :func:`sdk.verify.verify_artifacts`)."""
        from modelog.sdk.verify import verify_artifacts

        return verify_artifacts(self.registry, self.artifact_store)


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
