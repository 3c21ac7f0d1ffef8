"""``LocalRegistry``: the service API in process, over one database and artifact store; and ``connect``.

``connect()`` is what every adapter calls to get a :class:`~modelog.application.api.RegistryAPI`
for the configured registry. Reads are served at once; the write side (the command service and
the event classes it loads) is created on the first command, so read-only use starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelog.application.api import RegistryAPI, VersionRef
from modelog.application.blobs import store_outputs
from modelog.application.bootstrap import Reader, Registry, open_reader, read_only_refusal
from modelog.application.reads import ReadUseCases
from modelog.registry.errors import StorageError

if TYPE_CHECKING:
    from modelog.application.requests import OutputBytes
    from modelog.application.results import (
        AliasMoved,
        AliasRemoved,
        ArtifactLinkRecorded,
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
    from modelog.application.writes import WriteUseCases
    from modelog.registry.commands import ModelContext, OutputSpec
    from modelog.registry.service import CommandService


class LocalRegistry(ReadUseCases):
    """Every use case of one registry, run in this process (see :class:`~modelog.application.api.RegistryAPI`)."""

    def __init__(self, reader: Reader, *, actor: str | None = None, artifact_root: str | None = None,
                 commands: CommandService | None = None, owns_reader: bool = True) -> None:
        super().__init__(reader, artifact_root=artifact_root)
        self.actor = actor
        self._commands = commands
        self._owns_reader = owns_reader
        self._writes: WriteUseCases | None = None
        self._parent: LocalRegistry | None = None
        self._acting: tuple[str, str | None] | None = None

    def acting_as(self, actor: str, claimed_actor: str | None = None) -> LocalRegistry:
        """A view of this registry whose commands record ``actor`` (e.g. the principal a server authenticated)
        and, unverified, ``claimed_actor``; it shares this one's connections, command service and store.

        Cheap (made per request); closing it closes nothing.
        """
        view = LocalRegistry(self.reader, artifact_root=self._artifact_root, owns_reader=False)
        view._artifacts, view._parent, view._acting = self.artifact_store, self, (actor, claimed_actor)
        return view

    @classmethod
    def over(cls, registry: Registry, *, artifact_root: str | None = None) -> LocalRegistry:
        """The service API over a registry opened elsewhere (its owner closes it)."""
        return cls(registry, commands=registry.commands, artifact_root=artifact_root, owns_reader=False)

    def _write_side(self) -> WriteUseCases:
        if self._writes is None and self._parent is not None:
            from modelog.application.writes import WriteUseCases

            commands = self._parent._write_side().commands
            actor, claimed = self._acting or (None, None)
            self._writes = WriteUseCases(commands, self, actor=actor, claimed_actor=claimed)
        if self._writes is None:
            if self.reader.read_only is not None:
                raise StorageError(read_only_refusal(self.reader.read_only))
            # Imported here, once: loading the command layer (pydantic's event classes) costs a read
            # command a third of its start-up, and most invocations only read.
            from modelog.application.writes import WriteUseCases
            from modelog.registry.service import CommandService

            if self._commands is None:
                self._commands = CommandService(self.reader.store, actor=self.actor)
            self._writes = WriteUseCases(self._commands, self)
        return self._writes

    # --- commands (see RegistryAPI for what each does) --------------------------------

    def register_model(self, name: str, *, fields: Mapping[str, str | None] | None = None,
                       tags: Sequence[str] = ()) -> ModelChanged:
        """Register a model."""
        return self._write_side().register_model(name, fields=fields, tags=tags)

    def update_model(self, name: str, *, changes: Mapping[str, str | None] | None = None,
                     add_tags: Sequence[str] = (), remove_tags: Sequence[str] = ()) -> ModelChanged:
        """Change text fields of a model and add / remove tags."""
        return self._write_side().update_model(name, changes=changes, add_tags=add_tags, remove_tags=remove_tags)

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a model and free its name."""
        return self._write_side().delete_model(name)

    def rename_model(self, name: str, new_name: str) -> ModelChanged:
        """Give a model a new name."""
        return self._write_side().rename_model(name, new_name)

    def create_version(self, model: str, *, name: str | None = None, description: str | None = None,
                       tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionChanged:
        """Create the next version of a model (and log ``metadata`` on it, in the same transaction)."""
        return self._write_side().create_version(model, name=name, description=description, tags=tags,
                                                 metadata=metadata)

    def update_version(self, model: str, version: VersionRef, *, stage: str | None = None, force: bool = False,
                       name: str | None = None, description: str | None = None, set_aliases: Sequence[str] = (),
                       remove_aliases: Sequence[str] = (), add_tags: Sequence[str] = (),
                       remove_tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionUpdate:
        """Apply several changes to one version together."""
        return self._write_side().update_version(model, version, stage=stage, force=force, name=name,
                                                 description=description, set_aliases=set_aliases,
                                                 remove_aliases=remove_aliases, add_tags=add_tags,
                                                 remove_tags=remove_tags, metadata=metadata)

    def set_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False) -> StageChanged:
        """Move a version into a stage."""
        return self._write_side().set_stage(model, version, stage, force=force)

    def set_alias(self, model: str, version: VersionRef, alias: str) -> AliasMoved:
        """Point an alias at a version."""
        return self._write_side().set_alias(model, version, alias)

    def remove_alias(self, model: str, alias: str) -> AliasRemoved:
        """Remove an alias."""
        return self._write_side().remove_alias(model, alias)

    def delete_version(self, model: str, version: VersionRef) -> VersionChanged:
        """Delete a version."""
        return self._write_side().delete_version(model, version)

    def link_artifact(self, model: str, version: VersionRef, artifact_id: str, *, name: str | None = None,
                      kind: str = "data", overwrite: bool = False) -> ArtifactLinkRecorded:
        """Link a stored artifact version to a model version."""
        return self._write_side().link_artifact(model, version, artifact_id, name=name, kind=kind,
                                                overwrite=overwrite)

    def start_run(self, run_id: str, pipeline: str, *, model: ModelContext | None = None,
                  enable_cache: bool = False) -> RunStarted:
        """Start a pipeline run."""
        return self._write_side().start_run(run_id, pipeline, model=model, enable_cache=enable_cache)

    def complete_step(self, run_id: str, step: str, outputs: Sequence[OutputSpec | OutputBytes] = (), *,
                      cached: bool = False, cache_key: str | None = None, duration_ms: float = 0.0) -> StepRecorded:
        """Record a completed step; outputs carried as bytes are stored first (see :func:`store_outputs`)."""
        writes = self._write_side()  # a read-only registry refuses before anything is stored
        specs = store_outputs(self.artifact_store, step, outputs)
        return writes.complete_step(run_id, step, specs, cached=cached, cache_key=cache_key, duration_ms=duration_ms)

    def finish_run(self, run_id: str, *, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run completed."""
        return self._write_side().finish_run(run_id, duration_ms=duration_ms)

    def fail_run(self, run_id: str, *, error_type: str, error_message: str, failed_step: str | None = None,
                 delete_created_version: bool = False, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run failed."""
        return self._write_side().fail_run(run_id, error_type=error_type, error_message=error_message,
                                           failed_step=failed_step, delete_created_version=delete_created_version,
                                           duration_ms=duration_ms)

    def log_metadata(self, model: str, version: VersionRef, values: Mapping[str, Any]) -> VersionChanged:
        """Log metadata on a version."""
        return self._write_side().log_metadata(model, version, values)

    def add_principal(self, name: str) -> PrincipalChanged:
        """Add a principal."""
        return self._write_side().add_principal(name)

    def disable_principal(self, name: str) -> PrincipalChanged:
        """Disable a principal."""
        return self._write_side().disable_principal(name)

    def create_token(self, principal: str, *, expires: str | None = None) -> TokenChanged:
        """Issue an API token."""
        return self._write_side().create_token(principal, expires=expires)

    def revoke_token(self, token_id: str) -> TokenChanged:
        """Revoke an API token."""
        return self._write_side().revoke_token(token_id)

    def grant_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Grant a role."""
        return self._write_side().grant_role(principal, role, model=model)

    def revoke_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Revoke a role."""
        return self._write_side().revoke_role(principal, role, model=model)

    def set_stage_policy(self, stage: str, approvals: int, *, model: str | None = None) -> PolicyChanged:
        """Set a stage policy."""
        return self._write_side().set_stage_policy(stage, approvals, model=model)

    def request_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request a move into a protected stage."""
        return self._write_side().request_stage(model, version, stage, force=force, expires=expires)

    def approve_stage_request(self, model: str, version: VersionRef, *,
                              stage: str | None = None) -> StageRequestChanged:
        """Approve a pending stage change request."""
        return self._write_side().approve_stage_request(model, version, stage=stage)

    def reject_stage_request(self, model: str, version: VersionRef, *, stage: str | None = None,
                             reason: str | None = None) -> StageRequestChanged:
        """Reject a pending stage change request."""
        return self._write_side().reject_stage_request(model, version, stage=stage, reason=reason)

    # --- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Release the command service's connection and (if this object opened it) the database."""
        if self._commands is not None and self._owns_reader:
            self._commands.close()
        if self._owns_reader:
            self.reader.close()

    def __enter__(self) -> LocalRegistry:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def connect(url: str | None = None, *, home: str | os.PathLike[str] | None = None, actor: str | None = None,
            artifact_store: str | os.PathLike[str] | None = None, writable: bool = False,
            synchronous: str | None = None) -> RegistryAPI:
    """The registry at ``$MODELOG_URL`` (a ``modelog server``), else at ``url`` / ``$MODELOG_DATABASE_URL`` /
    the home's SQLite file, as the service API.

    With ``$MODELOG_URL`` set (and no ``url`` given) every call goes to that server through a
    :class:`~modelog.application.remote.RemoteRegistry`: no database URL, home or local artifact
    store is used. Otherwise the registry is opened in process (created on first use);
    ``writable``: refuse at once (one line naming the database) when the registry can only be
    read; otherwise a read-only SQLite registry is opened for reading and refuses commands.
    """
    server = os.environ.get("MODELOG_URL", "").strip()
    if url is None and server:
        # Imported here: httpx (and the wire decoding) cost start-up that an in-process registry never needs.
        from modelog.application.remote import RemoteRegistry

        return RemoteRegistry(server, actor=actor or os.environ.get("MODELOG_ACTOR"))
    reader = open_reader(url, home=home, synchronous=synchronous, read_only_fallback=not writable)
    root = None if artifact_store is None else os.fspath(artifact_store)
    return LocalRegistry(reader, actor=actor, artifact_root=root)
