"""Aggregates: state rebuilt only by applying events, and the decisions that produce new events.

Decision methods never mutate; they validate against the current state and return
the events to append. ``apply`` is the only way state changes, for live commands and
for replay alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelog.registry import approvals
from modelog.registry import events as ev
from modelog.registry.approvals import RequestState
from modelog.registry.errors import ConflictError, InvalidInputError, NotFoundError
from modelog.registry.selectors import SelectorKind, VersionSelector
from modelog.registry.validation import check_tag_count, name_key, skeleton
from modelog.registry.values import EXCLUSIVE_STAGES, ArtifactKind, DeleteReason, RunStatus, Stage
from modelog.registry.vocabulary import MODEL_TEXT_FIELDS

LinkKey = tuple[str, str, str, str]  # (pipeline, step, name, kind)


class Aggregate:
    """Base: dispatches ``apply`` to ``_on_<EventType>`` and tracks the stream version."""

    version: int = 0

    def apply(self, event: ev.Event) -> None:
        """Change state by one event (the only way state changes)."""
        handler = getattr(self, f"_on_{event.event_type}", None)
        if handler is None:
            raise InvalidInputError(f"{type(self).__name__} cannot apply {event.event_type}")
        handler(event)
        self.version += 1


@dataclass
class NameClaim(Aggregate):
    """Who holds a model name (stream ``name-<key>``)."""

    holder: str | None = None
    version: int = 0

    def _on_ModelNameClaimed(self, event: ev.ModelNameClaimed) -> None:
        self.holder = event.model_id

    def _on_ModelNameReleased(self, event: ev.ModelNameReleased) -> None:
        self.holder = None


@dataclass
class VersionState:
    """One model version inside the Model aggregate."""

    number: int
    name: str
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    stage: Stage = Stage.NONE
    deleted: bool = False
    links: dict[LinkKey, list[str]] = field(default_factory=dict)
    runs: set[str] = field(default_factory=set)

    def label(self) -> str:
        """``3`` or ``3 ('candidate')``."""
        return str(self.number) if self.name == str(self.number) else f"{self.number} ({self.name!r})"


@dataclass
class ModelState(Aggregate):
    """The Model aggregate: one stream per model, holding its versions, stages, aliases and links."""

    model_id: str = ""
    name: str = ""
    fields: dict[str, str | None] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    deleted: bool = False
    exists: bool = False
    max_number: int = 0
    versions: dict[int, VersionState] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    requests: dict[int, RequestState] = field(default_factory=dict)
    version: int = 0

    # --- queries on state ----------------------------------------------------------

    def live_versions(self) -> list[VersionState]:
        """Versions not deleted, by number."""
        return [v for n, v in sorted(self.versions.items()) if not v.deleted]

    def holder_of(self, stage: Stage) -> VersionState | None:
        """The live version in ``stage`` (meaningful for staging and production)."""
        return next((v for v in self.live_versions() if v.stage == stage), None)

    def resolve(self, selector: VersionSelector) -> VersionState:
        """The live version a selector names, or NotFoundError listing what exists."""
        found = self._find(selector)
        if found is None:
            if selector.kind is SelectorKind.LATEST:
                raise NotFoundError(f"model {self.name!r} has no versions")
            raise NotFoundError(f"model {self.name!r} has no {selector.describe()}; {self._existing()}")
        return found

    def _find(self, selector: VersionSelector) -> VersionState | None:
        if selector.kind is SelectorKind.NUMBER:  # by key: a command's decide stays O(1) however many versions
            found = self.versions.get(selector.value)  # type: ignore[arg-type]
            return found if found is not None and not found.deleted else None
        live = self.live_versions()
        if selector.kind is SelectorKind.NAME:
            key = name_key(str(selector.value))
            return next((v for v in live if name_key(v.name) == key), None)
        if selector.kind is SelectorKind.STAGE:
            return next((v for v in reversed(live) if v.stage == selector.value), None)
        if selector.kind is SelectorKind.ALIAS:
            number = self.aliases.get(str(selector.value))
            return next((v for v in live if v.number == number), None)
        return live[-1] if live else None

    def _existing(self) -> str:
        live = self.live_versions()
        if not live:
            return "it has no versions"
        shown = ", ".join(v.label() for v in live[-10:])
        return f"existing versions: {shown}" + (" (last 10)" if len(live) > 10 else "")

    def require_live(self) -> None:
        """Refuse commands on a deleted or never-registered model."""
        if not self.exists or self.deleted:
            raise NotFoundError(f"model {self.name or self.model_id!r} does not exist")

    # --- decisions -----------------------------------------------------------------

    def update(self, changes: dict[str, str | None], add: tuple[str, ...], remove: tuple[str, ...]) -> list[ev.Event]:
        """Decide a ModelUpdated with only what really changes."""
        self.require_live()
        real = {k: v for k, v in changes.items() if self.fields.get(k) != v}
        added = tuple(t for t in add if t not in self.tags)
        removed = tuple(t for t in remove if t in self.tags and t not in added)
        if not (real or added or removed):
            return []
        check_tag_count(len(self.tags) + len(added) - len(removed))
        return [ev.ModelUpdated(changes=real, tags_added=added, tags_removed=removed)]

    def delete(self) -> list[ev.Event]:
        """Decide the model's tombstone."""
        self.require_live()
        return [ev.ModelDeleted(name=self.name)]

    def rename(self, new_name: str) -> list[ev.Event]:
        """Decide a new name (a spelling that differs only in case is a rename too; the exact same name is not).

        Whether another model holds the new name is the name claim's to say (``name-<key>``), not this model's.
        """
        self.require_live()
        if new_name == self.name:
            raise InvalidInputError(f"model {self.name!r} is already named {new_name!r}")
        return [ev.ModelRenamed(old_name=self.name, new_name=new_name)]

    def create_version(self, name: str | None, description: str | None, tags: tuple[str, ...]) -> list[ev.Event]:
        """Allocate the next number (never reused) and name the version."""
        self.require_live()
        number = self.max_number + 1
        if name is not None:
            self._check_name_free(name)
        return [ev.ModelVersionCreated(number=number, name=name or str(number), description=description, tags=tags)]

    def _check_name_free(self, name: str, except_number: int | None = None) -> None:
        key, look = name_key(name), skeleton(name)
        for other in self.live_versions():
            if other.number == except_number:
                continue
            if name_key(other.name) == key:
                raise ConflictError(f"model {self.name!r} already has a version named {other.name!r} ({other.number})")
            if skeleton(other.name) == look:
                raise ConflictError(f"version name {name!r} looks like the name of version {other.label()} of model "
                                    f"{self.name!r} (confusable characters); choose a distinct name")

    def update_version(
        self, target: VersionState, changes: dict[str, str | None], add: tuple[str, ...], remove: tuple[str, ...]
    ) -> list[ev.Event]:
        """Decide a ModelVersionUpdated with only what really changes."""
        if changes.get("name") is not None:
            self._check_name_free(str(changes["name"]), except_number=target.number)
        current = {"name": target.name, "description": target.description}
        real = {k: v for k, v in changes.items() if current.get(k) != v}
        added = tuple(t for t in add if t not in target.tags)
        removed = tuple(t for t in remove if t in target.tags and t not in added)
        if not (real or added or removed):
            return []
        check_tag_count(len(target.tags) + len(added) - len(removed))
        return [ev.ModelVersionUpdated(number=target.number, changes=real, tags_added=added, tags_removed=removed)]

    def set_stage(self, target: VersionState, stage: Stage, force: bool) -> list[ev.Event]:
        """Promote ``target``; an occupied staging/production needs ``force`` (the holder is archived)."""
        if target.stage == stage:
            return []
        decided: list[ev.Event] = []
        holder = self.holder_of(stage) if stage in EXCLUSIVE_STAGES else None
        if holder is not None and holder.number != target.number:
            if not force:
                raise ConflictError(
                    f"{stage.value} of model {self.name!r} is held by version {holder.label()}; use force to archive it"
                )
            decided.append(ev.ModelVersionStageChanged(
                number=holder.number, from_stage=holder.stage, to_stage=Stage.ARCHIVED,
                forced=True, displaced_by=target.number,
            ))
        decided.append(ev.ModelVersionStageChanged(
            number=target.number, from_stage=target.stage, to_stage=stage, forced=holder is not None,
        ))
        return decided

    def set_alias(self, target: VersionState, alias: str) -> list[ev.Event]:
        """Point ``alias`` at ``target``, moving it from wherever it was."""
        previous = self.aliases.get(alias)
        if previous == target.number:
            return []
        if previous is None:
            look = skeleton(alias)
            twin = next((a for a in self.aliases if skeleton(a) == look), None)
            if twin is not None:
                raise ConflictError(f"alias {alias!r} looks like the alias @{twin} of model {self.name!r} "
                                    "(confusable characters); choose a distinct alias")
        return [ev.ModelVersionAliasSet(alias=alias, number=target.number, previous_number=previous)]

    def remove_alias(self, alias: str) -> list[ev.Event]:
        """Remove ``alias``; NotFoundError if the model has no such alias."""
        self.require_live()
        if alias not in self.aliases:
            known = ", ".join(sorted(self.aliases)) or "none"
            raise NotFoundError(f"model {self.name!r} has no alias {alias!r}; aliases: {known}")
        return [ev.ModelVersionAliasRemoved(alias=alias, number=self.aliases[alias])]

    def link_artifact(self, target: VersionState, link: dict[str, Any], overwrite: bool) -> list[ev.Event]:
        """Link an artifact version under its key: idempotent per artifact id, else the next link version."""
        key: LinkKey = (link["pipeline"], link["step"], link["name"], ArtifactKind(link["kind"]).value)
        existing = target.links.get(key, [])
        if link["artifact_id"] in existing and not (overwrite and len(existing) > 1):
            return []  # already linked; overwriting a key that holds only this artifact changes nothing
        decided: list[ev.Event] = []
        if overwrite and existing:
            decided.append(ev.ArtifactUnlinked(number=target.number, pipeline=key[0], step=key[1], name=key[2],
                                               kind=ArtifactKind(key[3])))
            existing = []
        decided.append(ev.ArtifactLinked(number=target.number, link_version=len(existing) + 1, **link))
        return decided

    def link_run(self, target: VersionState, run_id: str, pipeline: str) -> list[ev.Event]:
        """Link a pipeline run (idempotent by run id)."""
        if run_id in target.runs:
            return []
        return [ev.PipelineRunLinked(number=target.number, run_id=run_id, pipeline=pipeline)]

    def delete_version(self, target: VersionState, reason: DeleteReason, run_id: str | None) -> list[ev.Event]:
        """Delete a version (its aliases go with it)."""
        removed = [ev.ModelVersionAliasRemoved(alias=a, number=n) for a, n in sorted(self.aliases.items())
                   if n == target.number]
        return [*removed, ev.ModelVersionDeleted(number=target.number, reason=reason, run_id=run_id)]

    # --- state changes -------------------------------------------------------------

    def _on_ModelRegistered(self, event: ev.ModelRegistered) -> None:
        self.model_id, self.name, self.exists = event.model_id, event.name, True
        self.fields = {f: getattr(event, f) for f in MODEL_TEXT_FIELDS}
        self.tags = list(event.tags)

    def _on_ModelUpdated(self, event: ev.ModelUpdated) -> None:
        self.fields.update(event.changes)
        self.tags = [t for t in self.tags if t not in event.tags_removed] + list(event.tags_added)

    def _on_ModelDeleted(self, event: ev.ModelDeleted) -> None:
        self.deleted = True

    def _on_ModelRenamed(self, event: ev.ModelRenamed) -> None:
        self.name = event.new_name

    def _on_ModelVersionCreated(self, event: ev.ModelVersionCreated) -> None:
        self.max_number = max(self.max_number, event.number)
        self.versions[event.number] = VersionState(event.number, event.name, event.description, list(event.tags))

    def _on_ModelVersionUpdated(self, event: ev.ModelVersionUpdated) -> None:
        target = self.versions[event.number]
        if "name" in event.changes and event.changes["name"] is not None:
            target.name = event.changes["name"]
        if "description" in event.changes:
            target.description = event.changes["description"]
        target.tags = [t for t in target.tags if t not in event.tags_removed] + list(event.tags_added)

    def _on_ModelVersionStageChanged(self, event: ev.ModelVersionStageChanged) -> None:
        self.versions[event.number].stage = event.to_stage

    def _on_ModelVersionAliasSet(self, event: ev.ModelVersionAliasSet) -> None:
        self.aliases[event.alias] = event.number

    def _on_ModelVersionAliasRemoved(self, event: ev.ModelVersionAliasRemoved) -> None:
        self.aliases.pop(event.alias, None)

    def _on_ModelVersionDeleted(self, event: ev.ModelVersionDeleted) -> None:
        self.versions[event.number].deleted = True

    def log_metadata(self, target: VersionState, values: dict[str, Any]) -> list[ev.Event]:
        """Log metadata on ``target``: always an event, so a value logged again is kept in its history."""
        return [ev.ModelVersionMetadataLogged(number=target.number, values=values)]

    def _on_ModelVersionMetadataLogged(self, event: ev.ModelVersionMetadataLogged) -> None:
        """Metadata decides nothing later commands check: the state keeps none of it."""

    def _on_ArtifactLinked(self, event: ev.ArtifactLinked) -> None:
        key = (event.pipeline, event.step, event.name, event.kind.value)
        self.versions[event.number].links.setdefault(key, []).append(event.artifact_id)

    def _on_ArtifactUnlinked(self, event: ev.ArtifactUnlinked) -> None:
        self.versions[event.number].links.pop((event.pipeline, event.step, event.name, event.kind.value), None)

    def _on_PipelineRunLinked(self, event: ev.PipelineRunLinked) -> None:
        self.versions[event.number].runs.add(event.run_id)

    def _on_StageChangeRequested(self, event: ev.StageChangeRequested) -> None:
        approvals.on_requested(self, event)

    def _on_StageChangeApproved(self, event: ev.StageChangeApproved) -> None:
        approvals.on_approved(self, event)

    def _on_StageChangeRejected(self, event: ev.StageChangeRejected) -> None:
        approvals.on_rejected(self, event)


@dataclass
class RunState(Aggregate):
    """A pipeline run (stream ``run-<id>``): started, steps completed, then completed or failed."""

    run_id: str = ""
    pipeline: str = ""
    status: RunStatus = RunStatus.UNKNOWN
    steps: list[str] = field(default_factory=list)
    model_id: str | None = None
    version_number: int | None = None
    created_version: bool = False
    version: int = 0

    def require_running(self) -> None:
        """Refuse to record anything on a run that is not running."""
        if self.status is not RunStatus.RUNNING:
            raise ConflictError(f"run {self.run_id or '?'} is {self.status}, not running")

    def _on_PipelineRunStarted(self, event: ev.PipelineRunStarted) -> None:
        self.run_id, self.pipeline, self.status = event.run_id, event.pipeline, RunStatus.RUNNING
        self.model_id, self.version_number = event.model_id, event.version_number
        self.created_version = event.created_version

    def _on_PipelineStepCompleted(self, event: ev.PipelineStepCompleted) -> None:
        self.steps.append(event.step)

    def _on_PipelineRunCompleted(self, event: ev.PipelineRunCompleted) -> None:
        self.status = RunStatus.COMPLETED

    def _on_PipelineRunFailed(self, event: ev.PipelineRunFailed) -> None:
        self.status = RunStatus.FAILED


@dataclass
class ArtifactState(Aggregate):
    """All versions of one named artifact (stream ``artifact-<key>``)."""

    latest: int = 0
    version: int = 0

    def _on_ArtifactVersionStored(self, event: ev.ArtifactVersionStored) -> None:
        self.latest = event.version

