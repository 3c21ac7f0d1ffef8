"""The command layer: run a command in a unit of work, retrying when another writer got there first."""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from modelog.registry import commands as cmd
from modelog.registry import events as ev
from modelog.registry.aggregates import (
    ArtifactState,
    ModelState,
    NameClaim,
    RunState,
    VersionState,
)
from modelog.registry.database import is_transient
from modelog.registry.errors import ConcurrencyError, ConflictError, InvalidInputError, NotFoundError, StorageError
from modelog.registry.governance import HANDLERS as GOVERNANCE_HANDLERS
from modelog.registry.governance import required_approvals
from modelog.registry.identity import HANDLERS as IDENTITY_HANDLERS
from modelog.registry.logs import get_logger
from modelog.registry.outcomes import (
    AliasMoved,
    AliasRemoved,
    ArtifactLinkRecorded,
    Batch,
    ModelChanged,
    Outcome,
    RunFinished,
    RunStarted,
    StageChanged,
    StepRecorded,
    VersionChanged,
)
from modelog.registry.recorder import Recorder
from modelog.registry.unit_of_work import AggregateCache, UnitOfWork
from modelog.registry.validation import clean_actor, name_key
from modelog.registry.values import DeleteReason, RunStatus
from modelog.registry.vocabulary import artifact_stream, model_stream, name_stream, run_stream

log = get_logger("modelog.commands")


def default_actor() -> str:
    """Who is acting: ``$MODELOG_ACTOR``, else the operating-system user."""
    try:
        return os.environ.get("MODELOG_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class _Decision:
    """A handler's outcome (its events are filled in at commit) and the run its events belong to."""

    outcome: Outcome
    run_id: str | None = None


def _deciding(decide: Callable[[UnitOfWork, Any], Outcome]) -> Callable[[UnitOfWork, Any], _Decision]:
    """A handler returning only an outcome (the identity commands'), as the service's handlers return."""
    return lambda uow, command: _Decision(decide(uow, command))


class CommandService:
    """Executes commands: decide on fresh state, append atomically, retry on concurrency conflicts."""

    def __init__(self, store: Recorder, *, actor: str | None = None, attempts: int = 10) -> None:
        self.store = store
        self.actor = clean_actor(actor or default_actor())
        self.attempts = attempts
        self.cache = AggregateCache()
        self.writer = store.writer()
        self._handlers: dict[type, Callable[[UnitOfWork, Any], _Decision]] = {
            cmd.RegisterModel: self._register_model,
            cmd.UpdateModel: self._update_model,
            cmd.DeleteModel: self._delete_model,
            cmd.RenameModel: self._rename_model,
            cmd.CreateVersion: self._create_version,
            cmd.UpdateVersion: self._update_version,
            cmd.SetStage: self._set_stage,
            cmd.SetAlias: self._set_alias,
            cmd.RemoveAlias: self._remove_alias,
            cmd.LinkArtifact: self._link_artifact,
            cmd.LinkRun: self._link_run,
            cmd.DeleteVersion: self._delete_version,
            cmd.StartRun: self._start_run,
            cmd.CompleteStep: self._complete_step,
            cmd.FinishRun: self._finish_run,
        }
        self._handlers[cmd.LogVersionMetadata] = self._log_version_metadata
        for kind, decide in (*IDENTITY_HANDLERS.items(), *GOVERNANCE_HANDLERS.items()):
            self._handlers[kind] = _deciding(decide)

    # --- execution -----------------------------------------------------------------

    def execute(self, command: cmd.Command, *, correlation_id: str | None = None,
                causation_id: str | None = None, actor: str | None = None,
                claimed_actor: str | None = None) -> Outcome:
        """Run ``command``; raises a RegistryError subclass on refusal, having written nothing.

        ``actor`` (default: the service's) is who the events record as acting, e.g. the principal a
        server authenticated; ``claimed_actor`` is recorded beside it, unverified (what a client said).
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            raise InvalidInputError(f"unknown command {type(command).__name__}")
        meta = self._meta(type(command).__name__, correlation_id, actor, claimed_actor)
        if causation_id:
            meta["causation_id"] = causation_id
        with self.cache.lock:
            return self._with_retries(handler, command, meta)

    def _meta(self, command: str, correlation_id: str | None, actor: str | None,
              claimed_actor: str | None) -> dict[str, Any]:
        meta = {"actor": actor or self.actor, "command": command, "correlation_id": correlation_id or str(uuid.uuid4())}
        if claimed_actor:
            meta["claimed_actor"] = claimed_actor
        return meta

    def execute_all(self, commands: list[cmd.Command], *, correlation_id: str | None = None,
                    actor: str | None = None, claimed_actor: str | None = None) -> Batch:
        """Run several commands as one unit of work: all their events are appended together, or none.

        The returned result carries every appended event; ``info["results"]`` holds each command's own result.
        """
        handlers = [self._handlers.get(type(c)) for c in commands]
        unknown = [type(c).__name__ for c, h in zip(commands, handlers, strict=True) if h is None]
        if unknown:
            raise InvalidInputError(f"unknown command {unknown[0]}")
        meta = self._meta("+".join(type(c).__name__ for c in commands), correlation_id, actor, claimed_actor)

        def run_all(uow: UnitOfWork, _: Any) -> _Decision:
            outcomes = tuple(h(uow, c).outcome for h, c in zip(handlers, commands, strict=True))  # type: ignore[misc]
            return _Decision(Batch(outcomes=outcomes))

        with self.cache.lock:
            done = self._with_retries(run_all, None, meta)
        assert isinstance(done, Batch)
        return done

    def _with_retries(self, handler: Callable[[UnitOfWork, Any], _Decision], command: Any,
                      meta: dict[str, Any]) -> Outcome:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._attempt(handler, command, meta)
            except ConcurrencyError as error:
                log.debug("concurrency conflict, retrying", stream=error.stream_id, attempt=attempt)
                if attempt == self.attempts:
                    raise
            except StorageError as error:
                if attempt == self.attempts or error.__cause__ is None or not is_transient(error.__cause__):
                    raise
                log.debug("transient storage failure, retrying", error=str(error), attempt=attempt)
            time.sleep(min(0.002 * 2**attempt, 0.5))
        raise AssertionError("unreachable")

    def _attempt(self, handler: Callable[[UnitOfWork, Any], _Decision], command: Any,
                 meta: dict[str, Any]) -> Outcome:
        uow: UnitOfWork | None = None
        try:
            with self.writer.session() as session:
                uow = UnitOfWork(session, self.cache)
                outcome = handler(uow, command)
                run_meta = {**meta, "run_id": outcome.run_id} if outcome.run_id else meta
                appended = tuple(uow.flush(run_meta))
            uow.committed()
            return replace(outcome.outcome, events=appended)
        except BaseException as error:
            if uow is not None:
                uow.discard(trust_cache=not isinstance(error, ConcurrencyError))
            raise

    def close(self) -> None:
        """Release the connection the commands write through (the next command opens a new one)."""
        with self.cache.lock:
            self.writer.close()

    # --- lookups -------------------------------------------------------------------

    def _model(self, uow: UnitOfWork, name: str) -> ModelState:
        claim = uow.load(NameClaim, name_stream(name))
        if claim.holder is None:
            raise NotFoundError(f"model {name!r} does not exist")
        return uow.load(ModelState, model_stream(claim.holder))

    def _version(self, uow: UnitOfWork, command: Any) -> tuple[ModelState, VersionState]:
        model = self._model(uow, command.model)
        return model, model.resolve(command.selector)

    def _record_model(self, uow: UnitOfWork, model: ModelState, new: list[ev.Event]) -> None:
        uow.record(model_stream(model.model_id), model, new)

    # --- model handlers ------------------------------------------------------------

    def _register_model(self, uow: UnitOfWork, command: cmd.RegisterModel) -> _Decision:
        model = self._register(uow, command)
        return _Decision(ModelChanged(model_id=model.model_id, model_name=model.name))

    def _register(self, uow: UnitOfWork, command: cmd.RegisterModel) -> ModelState:
        claim_stream = name_stream(command.name)
        claim = uow.load(NameClaim, claim_stream)
        if claim.holder is not None:
            raise ConflictError(f"a model named {command.name!r} already exists")
        model_id = str(uuid.uuid4())
        uow.record(claim_stream, claim, [ev.ModelNameClaimed(name=command.name, model_id=model_id)])
        model = uow.load(ModelState, model_stream(model_id))
        registered = ev.ModelRegistered(model_id=model_id, name=command.name, tags=command.tags,
                                        implicit=command.implicit, **command.fields)
        uow.record(model_stream(model_id), model, [registered])
        return model

    def _update_model(self, uow: UnitOfWork, command: cmd.UpdateModel) -> _Decision:
        model = self._model(uow, command.model)
        self._record_model(uow, model, model.update(command.changes, command.add_tags, command.remove_tags))
        return _Decision(ModelChanged(model_id=model.model_id, model_name=model.name))

    def _delete_model(self, uow: UnitOfWork, command: cmd.DeleteModel) -> _Decision:
        model = self._model(uow, command.model)
        self._record_model(uow, model, model.delete())
        claim_stream = name_stream(model.name)
        claim = uow.load(NameClaim, claim_stream)
        uow.record(claim_stream, claim, [ev.ModelNameReleased(name=model.name, model_id=model.model_id)])
        return _Decision(ModelChanged(model_id=model.model_id, model_name=model.name))

    def _rename_model(self, uow: UnitOfWork, command: cmd.RenameModel) -> _Decision:
        model = self._model(uow, command.model)
        old_name, renamed = model.name, model.rename(command.new_name)
        if name_key(old_name) != name_key(command.new_name):  # a new key: claim it, free the old one
            new_stream = name_stream(command.new_name)
            claim = uow.load(NameClaim, new_stream)
            if claim.holder is not None:
                raise ConflictError(f"a model named {command.new_name!r} already exists")
            old_stream = name_stream(old_name)
            uow.record(old_stream, uow.load(NameClaim, old_stream),
                       [ev.ModelNameReleased(name=old_name, model_id=model.model_id)])
            uow.record(new_stream, claim, [ev.ModelNameClaimed(name=command.new_name, model_id=model.model_id)])
        # Only the spelling changes (same key): the model keeps its claim on the key, nothing to release.
        self._record_model(uow, model, renamed)
        return _Decision(ModelChanged(model_id=model.model_id, model_name=model.name))

    # --- version handlers ----------------------------------------------------------

    def _create_version(self, uow: UnitOfWork, command: cmd.CreateVersion) -> _Decision:
        model = self._model(uow, command.model)
        new = model.create_version(command.name, command.description, command.tags)
        self._record_model(uow, model, new)
        return _Decision(self._version_changed(model, model.max_number))

    def _version_changed(self, model: ModelState, number: int) -> VersionChanged:
        return VersionChanged(model_id=model.model_id, model_name=model.name, number=number)

    def _update_version(self, uow: UnitOfWork, command: cmd.UpdateVersion) -> _Decision:
        model, target = self._version(uow, command)
        changes: dict[str, str | None] = {}
        if command.name is not None:
            changes["name"] = command.name
        if command.description is not None or command.set_description:
            changes["description"] = command.description
        self._record_model(uow, model, model.update_version(target, changes, command.add_tags, command.remove_tags))
        return _Decision(self._version_changed(model, target.number))

    def _set_stage(self, uow: UnitOfWork, command: cmd.SetStage) -> _Decision:
        model, target = self._version(uow, command)
        needed = required_approvals(uow, model, command.stage) if target.stage != command.stage else 0
        if needed:
            raise ConflictError(
                f"{command.stage.value} of model {model.name!r} is protected ({needed} approval(s)): request the move "
                f"with 'modelog model version request-stage {model.name} {target.number} {command.stage.value}'")
        new = model.set_stage(target, command.stage, command.force)
        archived = [e.number for e in new if isinstance(e, ev.ModelVersionStageChanged) and e.number != target.number]
        self._record_model(uow, model, new)
        return _Decision(StageChanged(model_id=model.model_id, model_name=model.name, number=target.number,
                                      stage=command.stage.value, moved=bool(new), archived=tuple(archived),
                                      forced=command.force))

    def _set_alias(self, uow: UnitOfWork, command: cmd.SetAlias) -> _Decision:
        model, target = self._version(uow, command)
        new = model.set_alias(target, command.alias)
        moved = [e.previous_number for e in new if isinstance(e, ev.ModelVersionAliasSet)]
        moved_from = moved[0] if moved else None
        self._record_model(uow, model, new)
        return _Decision(AliasMoved(model_id=model.model_id, model_name=model.name, alias=command.alias,
                                    to_version=target.number, from_version=moved_from))

    def _remove_alias(self, uow: UnitOfWork, command: cmd.RemoveAlias) -> _Decision:
        model = self._model(uow, command.model)
        new = model.remove_alias(command.alias)
        removed = new[0]
        assert isinstance(removed, ev.ModelVersionAliasRemoved)  # remove_alias refuses an unknown alias
        self._record_model(uow, model, new)
        return _Decision(AliasRemoved(model_id=model.model_id, model_name=model.name, alias=command.alias,
                                      from_version=removed.number))

    def _link_artifact(self, uow: UnitOfWork, command: cmd.LinkArtifact) -> _Decision:
        model, target = self._version(uow, command)
        new = model.link_artifact(target, command.link_fields(), command.overwrite)
        self._record_model(uow, model, new)
        linked = [e.link_version for e in new if isinstance(e, ev.ArtifactLinked)]
        recorded = ArtifactLinkRecorded(model_id=model.model_id, model_name=model.name, number=target.number,
                                        link_version=linked[0] if linked else None)
        return _Decision(recorded, run_id=command.run_id)

    def _link_run(self, uow: UnitOfWork, command: cmd.LinkRun) -> _Decision:
        model, target = self._version(uow, command)
        self._record_model(uow, model, model.link_run(target, command.run_id, command.pipeline))
        return _Decision(self._version_changed(model, target.number), run_id=command.run_id)

    def _delete_version(self, uow: UnitOfWork, command: cmd.DeleteVersion) -> _Decision:
        model, target = self._version(uow, command)
        self._record_model(uow, model, model.delete_version(target, command.reason, command.run_id))
        return _Decision(self._version_changed(model, target.number), run_id=command.run_id)

    def _log_version_metadata(self, uow: UnitOfWork, command: cmd.LogVersionMetadata) -> _Decision:
        model, target = self._version(uow, command)
        self._record_model(uow, model, model.log_metadata(target, command.values))
        return _Decision(self._version_changed(model, target.number))

    # --- run handlers --------------------------------------------------------------

    def _start_run(self, uow: UnitOfWork, command: cmd.StartRun) -> _Decision:
        run = uow.load(RunState, run_stream(command.run_id))
        if run.version:
            raise ConflictError(f"run {command.run_id} already exists")
        model, target, created = self._run_model(uow, command.model) if command.model else (None, None, False)
        if model is not None and target is not None:
            self._record_model(uow, model, model.link_run(target, command.run_id, command.pipeline))
        started = ev.PipelineRunStarted(
            run_id=command.run_id, pipeline=command.pipeline, enable_cache=command.enable_cache,
            model_id=model.model_id if model else None, model_name=model.name if model else None,
            version_number=target.number if target else None, created_version=created,
        )
        uow.record(run_stream(command.run_id), run, [started])
        outcome = RunStarted(run_id=command.run_id, model_id=started.model_id, model_name=started.model_name,
                             number=started.version_number, created_version=created)
        return _Decision(outcome, run_id=command.run_id)

    def _run_model(self, uow: UnitOfWork, context: cmd.ModelContext) -> tuple[ModelState, VersionState, bool]:
        claim = uow.load(NameClaim, name_stream(context.name))
        if claim.holder is None and not context.create_new_version:  # a consumer of a model that is not there
            raise NotFoundError(f"model {context.name!r} does not exist")
        if claim.holder is None:
            model = self._register(uow, context.register or cmd.RegisterModel(name=context.name, implicit=True))
        else:
            model = uow.load(ModelState, model_stream(claim.holder))
        if not context.create_new_version:
            return model, model.resolve(context.version), False
        new = model.create_version(context.version_name, context.version_description, ())
        self._record_model(uow, model, new)
        return model, model.versions[model.max_number], True

    def _running(self, uow: UnitOfWork, run_id: str) -> RunState:
        run = uow.load(RunState, run_stream(run_id))
        if not run.version:
            raise NotFoundError(f"run {run_id} does not exist")
        run.require_running()
        return run

    def _complete_step(self, uow: UnitOfWork, command: cmd.CompleteStep) -> _Decision:
        run = self._running(uow, command.run_id)
        model = uow.load(ModelState, model_stream(run.model_id)) if run.model_id else None
        outputs = tuple(self._record_output(uow, run, command.step, spec, model) for spec in command.outputs)
        completed = ev.PipelineStepCompleted(step=command.step, outputs=outputs, cached=command.cached,
                                             cache_key=command.cache_key, duration_ms=command.duration_ms)
        uow.record(run_stream(command.run_id), run, [completed])
        return _Decision(StepRecorded(run_id=command.run_id, step=command.step, outputs=outputs),
                         run_id=command.run_id)

    def _record_output(self, uow: UnitOfWork, run: RunState, step: str, spec: cmd.OutputSpec,
                       model: ModelState | None) -> ev.StepOutput:
        artifact_id, version = spec.artifact_id, spec.artifact_version
        if artifact_id is None or version is None:
            artifact_id, version = self._store_artifact(uow, run, step, spec)
        output = ev.StepOutput(name=spec.name, artifact_id=artifact_id, artifact_name=spec.artifact_name,
                               artifact_version=version, content_hash=spec.content_hash)
        if model is not None and spec.kind is not None:
            self._link_output(uow, run, step, spec, model, output)
        return output

    def _store_artifact(self, uow: UnitOfWork, run: RunState, step: str, spec: cmd.OutputSpec) -> tuple[str, int]:
        stream = artifact_stream(spec.artifact_name)
        artifact = uow.load(ArtifactState, stream)
        stored = ev.ArtifactVersionStored(
            artifact_id=str(uuid.uuid4()), name=spec.artifact_name, version=artifact.latest + 1, uri=spec.uri,
            content_hash=spec.content_hash, data_type=spec.data_type, materializer=spec.materializer,
            run_id=run.run_id, step=step,
        )
        uow.record(stream, artifact, [stored])
        return stored.artifact_id, stored.version

    def _link_output(self, uow: UnitOfWork, run: RunState, step: str, spec: cmd.OutputSpec, model: ModelState,
                     output: ev.StepOutput) -> None:
        target = model.versions.get(run.version_number or 0)
        if model.deleted or target is None or target.deleted:
            raise ConflictError(f"version {run.version_number} of model {model.name!r} no longer exists")
        link = {"pipeline": run.pipeline, "step": step, "name": spec.name, "kind": spec.kind,
                "artifact_id": output.artifact_id, "artifact_name": output.artifact_name,
                "artifact_version": output.artifact_version, "content_hash": output.content_hash,
                "run_id": run.run_id}
        self._record_model(uow, model, model.link_artifact(target, link, spec.overwrite))

    def _finish_run(self, uow: UnitOfWork, command: cmd.FinishRun) -> _Decision:
        run = self._running(uow, command.run_id)
        if command.error_type is None:
            uow.record(run_stream(run.run_id), run, [ev.PipelineRunCompleted(duration_ms=command.duration_ms)])
            return _Decision(RunFinished(run_id=run.run_id, status=RunStatus.COMPLETED), run_id=run.run_id)
        deleted = self._delete_created(uow, run) if command.delete_created_version else None
        failed = ev.PipelineRunFailed(step=command.failed_step, error_type=command.error_type,
                                      error_message=(command.error_message or "")[:10_000])
        uow.record(run_stream(run.run_id), run, [failed])
        return _Decision(RunFinished(run_id=run.run_id, status=RunStatus.FAILED, deleted_version=deleted),
                         run_id=run.run_id)

    def _delete_created(self, uow: UnitOfWork, run: RunState) -> int | None:
        if not (run.created_version and run.model_id and run.version_number):
            return None
        model = uow.load(ModelState, model_stream(run.model_id))
        target = model.versions.get(run.version_number)
        if model.deleted or target is None or target.deleted:
            return None
        self._record_model(uow, model, model.delete_version(target, DeleteReason.PIPELINE_FAILURE, run.run_id))
        return target.number
