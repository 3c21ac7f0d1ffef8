"""The write use cases, in process: each builds its command(s), runs them through the command layer,
and returns the typed outcome. The only module above the core that builds commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from modelog.application.access import expiry_after, new_token
from modelog.application.api import VersionRef
from modelog.application.everyday import with_model_suggestion
from modelog.application.reads import ReadUseCases
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
from modelog.registry import commands as cmd
from modelog.registry import governance, identity
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError
from modelog.registry.outcomes import Outcome
from modelog.registry.service import CommandService

#: How long a stage change request stays open unless the requester says otherwise.
DEFAULT_REQUEST_EXPIRY = "7d"
#: Pipeline and step recorded for an artifact linked by hand (not by the step that produced it).
MANUAL_LINK = "manual"


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


def _expect(outcome: Outcome, kind: type[OutcomeT]) -> OutcomeT:
    if not isinstance(outcome, kind):  # a command handler returned the wrong outcome: a bug, not user input
        raise TypeError(f"expected {kind.__name__}, the command layer returned {type(outcome).__name__}")
    return outcome


def _take(outcomes: Iterator[Outcome], kind: type[OutcomeT], count: int) -> tuple[OutcomeT, ...]:
    return tuple(_expect(next(outcomes), kind) for _ in range(count))


class WriteUseCases:
    """Every command of the registry, over one command service."""

    def __init__(self, commands: CommandService, reads: ReadUseCases, *, actor: str | None = None,
                 claimed_actor: str | None = None) -> None:
        self.commands = commands
        self.reads = reads
        #: Who the events record as acting (None: the command service's own actor), and what a client claimed.
        self.actor, self.claimed_actor = actor, claimed_actor

    def _run(self, command: cmd.Command, kind: type[OutcomeT]) -> OutcomeT:
        try:
            return _expect(self.commands.execute(command, actor=self.actor, claimed_actor=self.claimed_actor), kind)
        except NotFoundError as error:  # a mistyped model name: suggest the closest ones that exist
            name = getattr(command, "model", None)
            name = getattr(name, "name", name)  # a run's model context, or the model name itself
            if not isinstance(name, str):
                raise
            raise with_model_suggestion(error, self.reads.reads, name) from None

    # --- models --------------------------------------------------------------------

    def register_model(self, name: str, *, fields: Mapping[str, str | None] | None = None,
                       tags: Sequence[str] = ()) -> ModelChanged:
        """Register a model."""
        command = cmd.RegisterModel(name=name, fields=dict(fields or {}), tags=tuple(tags))
        self._refuse_look_alike(command.name)
        return self._run(command, ModelChanged)

    def _refuse_look_alike(self, name: str, own: str | None = None) -> None:
        """Refuse a new model name that looks like a live model's (a spoof of it in a listing); a renamed model's
        ``own`` name is no other model's."""
        twin = self.reads.reads.look_alike_of(name, ignoring=own)
        if twin is not None:
            raise ConflictError(f"model name {name!r} looks like the name of the existing model {twin!r} "
                                "(confusable characters); choose a distinct name")

    def update_model(self, name: str, *, changes: Mapping[str, str | None] | None = None,
                     add_tags: Sequence[str] = (), remove_tags: Sequence[str] = ()) -> ModelChanged:
        """Change text fields of a model and add / remove tags."""
        command = cmd.UpdateModel(model=name, changes=dict(changes or {}), add_tags=tuple(add_tags),
                                  remove_tags=tuple(remove_tags))
        self.reads.get_model(name)  # a missing model is refused naming the models that exist
        return self._run(command, ModelChanged)

    def delete_model(self, name: str) -> ModelChanged:
        """Delete a model and free its name."""
        return self._run(cmd.DeleteModel(model=name), ModelChanged)

    def rename_model(self, name: str, new_name: str) -> ModelChanged:
        """Give a model a new name; a name that looks like another live model's is refused, as at registration."""
        command = cmd.RenameModel(model=name, new_name=new_name)
        current = self.reads.get_model(command.model).name  # a missing model is refused naming those that exist
        self._refuse_look_alike(command.new_name, own=current)
        return self._run(command, ModelChanged)

    # --- versions ------------------------------------------------------------------

    def create_version(self, model: str, *, name: str | None = None, description: str | None = None,
                       tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionChanged:
        """Create the next version of a model; ``metadata`` is logged on it in the same transaction."""
        command = cmd.CreateVersion(model=model, name=name, description=description, tags=tuple(tags))
        if not metadata:
            return self._run(command, VersionChanged)
        # Decided in order in one unit of work: "latest" is the version the first command just created.
        logged = cmd.LogVersionMetadata(model=model, version=None, values=dict(metadata))
        try:
            done = self.commands.execute_all([command, logged], actor=self.actor, claimed_actor=self.claimed_actor)
        except NotFoundError as error:
            raise with_model_suggestion(error, self.reads.reads, command.model) from None
        created, noted = (_expect(outcome, VersionChanged) for outcome in done.outcomes)
        if noted.number != created.number:  # would mean "latest" named another version: never append that
            raise RuntimeError(f"metadata meant for version {created.number} landed on {noted.number}")
        return replace(created, events=done.events)  # the outcome carries every event the command appended

    def set_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False) -> StageChanged:
        """Move a version into a stage."""
        command = cmd.SetStage(model=model, version=version, stage=stage, force=force)
        return self._run(command, StageChanged)

    def set_alias(self, model: str, version: VersionRef, alias: str) -> AliasMoved:
        """Point an alias at a version."""
        return self._run(cmd.SetAlias(model=model, version=version, alias=alias), AliasMoved)

    def remove_alias(self, model: str, alias: str) -> AliasRemoved:
        """Remove an alias."""
        return self._run(cmd.RemoveAlias(model=model, alias=alias), AliasRemoved)

    def delete_version(self, model: str, version: VersionRef) -> VersionChanged:
        """Delete a version (reason: user)."""
        return self._run(cmd.DeleteVersion(model=model, version=version), VersionChanged)

    def update_version(self, model: str, version: VersionRef, *, stage: str | None = None, force: bool = False,
                       name: str | None = None, description: str | None = None, set_aliases: Sequence[str] = (),
                       remove_aliases: Sequence[str] = (), add_tags: Sequence[str] = (),
                       remove_tags: Sequence[str] = (), metadata: Mapping[str, Any] | None = None) -> VersionUpdate:
        """Apply every requested change to one version in one transaction."""
        target = self.reads.get_version(model, version)
        model_name, number = target.model_name, target.number
        stage_change = [cmd.SetStage(model=model_name, version=number, stage=stage, force=force)] if stage else []
        aliases = [cmd.SetAlias(model=model_name, version=number, alias=a) for a in set_aliases]
        removals = [cmd.RemoveAlias(model=model_name, alias=a) for a in remove_aliases]
        details = [cmd.UpdateVersion(model=model_name, version=number, name=name, description=description,
                                     add_tags=tuple(add_tags), remove_tags=tuple(remove_tags))] \
            if name is not None or description is not None or add_tags or remove_tags else []
        logged = [cmd.LogVersionMetadata(model=model_name, version=number, values=dict(metadata))] if metadata else []
        commands: list[cmd.Command] = [*stage_change, *aliases, *removals, *details, *logged]
        if not commands:
            raise InvalidInputError("nothing to update: give a stage, a name, a description, aliases, tags or "
                                    "metadata")
        done = self.commands.execute_all(commands, actor=self.actor, claimed_actor=self.claimed_actor)
        outcomes = iter(done.outcomes)  # in the order of ``commands``
        staged = _take(outcomes, StageChanged, len(stage_change))
        aliased = _take(outcomes, AliasMoved, len(aliases))
        removed = _take(outcomes, AliasRemoved, len(removals))
        described = _take(outcomes, VersionChanged, len(details))
        metadata_logged = _take(outcomes, VersionChanged, len(logged))
        return VersionUpdate(model_name=model_name, number=number, stage=staged[0] if staged else None,
                             aliases_set=aliased, aliases_removed=removed,
                             details=described[0] if described else None, events=done.events,
                             metadata_logged=metadata_logged[0] if metadata_logged else None)

    def link_artifact(self, model: str, version: VersionRef, artifact_id: str, *, name: str | None = None,
                      kind: str = "data", overwrite: bool = False) -> ArtifactLinkRecorded:
        """Link a stored artifact version, as the log recorded it, to a model version."""
        artifact = self.reads.get_artifact(artifact_id)
        pipeline = self.reads.get_run(artifact.run_id).pipeline if artifact.run_id else MANUAL_LINK
        command = cmd.LinkArtifact(
            model=model, version=version, pipeline=pipeline, step=artifact.step or MANUAL_LINK,
            name=name or artifact.name, kind=kind, artifact_id=artifact.artifact_id, artifact_name=artifact.name,
            artifact_version=artifact.version, content_hash=artifact.content_hash, run_id=artifact.run_id,
            overwrite=overwrite,
        )
        return self._run(command, ArtifactLinkRecorded)

    # --- runs ----------------------------------------------------------------------

    def start_run(self, run_id: str, pipeline: str, *, model: cmd.ModelContext | None = None,
                  enable_cache: bool = False) -> RunStarted:
        """Start a pipeline run."""
        command = cmd.StartRun(run_id=run_id, pipeline=pipeline, model=model, enable_cache=enable_cache)
        if command.model is not None:  # the run registers its model when no model has the name
            self._refuse_look_alike(command.model.name)
        return self._run(command, RunStarted)

    def complete_step(self, run_id: str, step: str, outputs: Sequence[cmd.OutputSpec] = (), *, cached: bool = False,
                      cache_key: str | None = None, duration_ms: float = 0.0) -> StepRecorded:
        """Record a completed step and its outputs."""
        command = cmd.CompleteStep(run_id=run_id, step=step, outputs=tuple(outputs), cached=cached,
                                   cache_key=cache_key, duration_ms=duration_ms)
        return self._run(command, StepRecorded)

    def finish_run(self, run_id: str, *, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run completed."""
        return self._run(cmd.FinishRun(run_id=run_id, duration_ms=duration_ms), RunFinished)

    def fail_run(self, run_id: str, *, error_type: str, error_message: str, failed_step: str | None = None,
                 delete_created_version: bool = False, duration_ms: float = 0.0) -> RunFinished:
        """Mark a run failed."""
        command = cmd.FinishRun(run_id=run_id, error_type=error_type, error_message=error_message,
                                failed_step=failed_step, delete_created_version=delete_created_version,
                                duration_ms=duration_ms)
        return self._run(command, RunFinished)

    # --- version metadata ----------------------------------------------------------

    def log_metadata(self, model: str, version: VersionRef, values: Mapping[str, Any]) -> VersionChanged:
        """Log metadata (metrics, parameters...) on a version: one event, every value kept in its history."""
        command = cmd.LogVersionMetadata(model=model, version=version, values=dict(values))
        return self._run(command, VersionChanged)

    # --- principals and API tokens ---------------------------------------------------

    def add_principal(self, name: str) -> PrincipalChanged:
        """Add a principal that API tokens can be issued to."""
        return self._run(identity.AddPrincipal(name=name), PrincipalChanged)

    def disable_principal(self, name: str) -> PrincipalChanged:
        """Disable a principal: its tokens are refused from the next request on."""
        return self._run(identity.DisablePrincipal(name=name), PrincipalChanged)

    def create_token(self, principal: str, *, expires: str | None = None) -> TokenChanged:
        """Issue an API token to a live principal; the answer carries the token itself, the log only its hash."""
        expires_at = expiry_after(expires)
        for _ in range(3):  # a clash of 64-bit random ids is next to impossible; draw again if it happens
            drawn = new_token()
            command = identity.CreateToken(principal=principal, token_id=drawn.token_id, token_sha256=drawn.sha256,
                                           expires_at=expires_at)
            try:
                issued = self._run(command, TokenChanged)
            except ConflictError as error:
                if "already in use" not in str(error):
                    raise
                continue
            return replace(issued, token=drawn.token)
        raise ConflictError("could not draw an unused token id; try again")

    def revoke_token(self, token_id: str) -> TokenChanged:
        """Revoke an API token by id: it is refused from the next request on."""
        return self._run(identity.RevokeToken(token_id=token_id), TokenChanged)

    # --- roles, stage policies and approvals ----------------------------------------

    @property
    def acting(self) -> str:
        """Who the events of this side's commands record as acting."""
        return self.actor or self.commands.actor

    def grant_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Grant a role, registry-wide or on one model (nothing recorded when it is held already)."""
        return self._run(governance.GrantRole(name=principal, role=role, model=model), RoleChanged)

    def revoke_role(self, principal: str, role: str, *, model: str | None = None) -> RoleChanged:
        """Revoke a role held in that scope."""
        return self._run(governance.RevokeRole(name=principal, role=role, model=model), RoleChanged)

    def set_stage_policy(self, stage: str, approvals: int, *, model: str | None = None) -> PolicyChanged:
        """Require ``approvals`` approvals for moves into ``stage``, registry-wide or on one model."""
        return self._run(governance.SetStagePolicy(stage=stage, approvals=approvals, model=model), PolicyChanged)

    def request_stage(self, model: str, version: VersionRef, stage: str, *, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request moving a version into a protected stage (expires after ``expires``, default 7 days)."""
        expires_at = expiry_after(expires or DEFAULT_REQUEST_EXPIRY)
        command = governance.RequestStageChange(model=model, version=version, stage=stage, force=force,
                                                expires_at=expires_at, by=self.acting)
        return self._run(command, StageRequestChanged)

    def approve_stage_request(self, model: str, version: VersionRef, *,
                              stage: str | None = None) -> StageRequestChanged:
        """Approve the pending request of a version; the last approval needed moves it."""
        command = governance.ApproveStageChange(model=model, version=version, stage=stage, by=self.acting)
        return self._run(command, StageRequestChanged)

    def reject_stage_request(self, model: str, version: VersionRef, *, stage: str | None = None,
                             reason: str | None = None) -> StageRequestChanged:
        """Reject (or, as its requester, withdraw) the pending request of a version."""
        command = governance.RejectStageChange(model=model, version=version, stage=stage, reason=reason,
                                               by=self.acting)
        return self._run(command, StageRequestChanged)
