"""A handle on one model version: its stage, linked artifacts, runs and history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelog.projections.history import HistoryEntry
from modelog.projections.views import LinkView, RunView, VersionView
from modelog.registry.values import ArtifactKind
from modelog.registry.vocabulary import EventType
from modelog.sdk.config import ModelStages
from modelog.sdk.errors import ArtifactNotFoundError

if TYPE_CHECKING:
    from modelog.application.results import StageRequestChanged
    from modelog.projections.describe import MetadataValue, VersionDescription
    from modelog.sdk.client import Client


class ModelVersion:
    """One version of a model, addressed by number; reads are live unless the handle is pinned to a log position."""

    def __init__(self, client: Client, model: str, number: int, *, position: int | None = None) -> None:
        self.client = client
        self.model_name = model
        self.number = number
        self.position = position

    def __repr__(self) -> str:
        pinned = f", position={self.position}" if self.position is not None else ""
        return f"ModelVersion(model={self.model_name!r}, number={self.number}{pinned})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelVersion) and (self.model_name, self.number, self.position) == (
            other.model_name, other.number, other.position)

    def __hash__(self) -> int:
        return hash((self.model_name, self.number, self.position))

    @property
    def view(self) -> VersionView:
        """The version's read-model row (number, name, stage, counts...)."""
        return self.client.api.get_version(self.model_name, self.number, at_position=self.position)

    @property
    def name(self) -> str:
        """The version's name (its number as text unless it was named)."""
        return self.view.name

    @property
    def stage(self) -> ModelStages:
        """The version's current stage."""
        return ModelStages(self.view.stage)

    def set_stage(self, stage: ModelStages | str, force: bool = False) -> None:
        """Move this version into ``stage``; ``force`` archives the version currently holding it."""
        self.client.api.set_stage(self.model_name, self.number, str(getattr(stage, "value", stage)), force=force)

    def request_stage(self, stage: ModelStages | str, force: bool = False,
                      expires: str | None = None) -> StageRequestChanged:
        """Request moving this version into a protected stage; it moves once other principals approve."""
        return self.client.request_stage(self.model_name, self.number, stage, force=force, expires=expires)

    def approve(self, stage: ModelStages | str | None = None) -> StageRequestChanged:
        """Approve this version's pending stage change request (never your own)."""
        return self.client.approve(self.model_name, self.number, stage=stage)

    def _links(self, kind: str | None = None) -> list[LinkView]:
        return self.client.api.list_links(self.model_name, self.number, kind=kind, at_position=self.position)

    @property
    def artifacts(self) -> list[LinkView]:
        """Data artifacts linked to this version, in link order."""
        return self._links(ArtifactKind.DATA)

    @property
    def model_objects(self) -> list[LinkView]:
        """Model objects linked to this version."""
        return self._links(ArtifactKind.MODEL)

    @property
    def deployments(self) -> list[LinkView]:
        """Deployments linked to this version."""
        return self._links(ArtifactKind.DEPLOYMENT)

    @property
    def runs(self) -> list[RunView]:
        """Pipeline runs linked to this version, in link order."""
        return self.client.api.list_version_runs(self.model_name, self.number, at_position=self.position)

    def get_artifact(self, name: str, version: int | None = None) -> LinkView:
        """The link named ``name`` (its latest link version, or link version ``version``)."""
        links = self._links()
        named = [link for link in links if name in (link.name, link.artifact_name)]
        if version is not None:
            named = [link for link in named if link.link_version == version]
        if not named:
            known = ", ".join(sorted({link.name for link in links})) or "none"
            which = f"{name!r}" + (f" link version {version}" if version is not None else "")
            raise ArtifactNotFoundError(
                f"version {self.number} of model {self.model_name!r} has no artifact {which}; linked: {known}")
        return named[-1]

    def load_artifact(self, name: str, version: int | None = None) -> Any:
        """Load (verifying its content hash first) the artifact linked under ``name``."""
        return self.client.load_artifact(self.get_artifact(name, version).artifact_id)

    def history(self) -> list[HistoryEntry]:
        """The model history entries about this version, including its runs' events."""
        model_id = self.view.model_id
        entries = [e for e in self.client.api.history(self.model_name, at_position=self.position, include_runs=True)
                   if e.model_id in (None, model_id)]  # not an earlier model of the same name
        run_ids = {e.data["run_id"] for e in entries
                   if e.event_type == EventType.PIPELINE_RUN_LINKED and e.data.get("number") == self.number}
        return [e for e in entries if e.data.get("number") == self.number or (e.run_id in run_ids)]

    # --- metadata, tags and the full description --------------------------------------

    def describe(self) -> VersionDescription:
        """Everything about this version: metadata, metrics, tags, artifacts, runs and stage history."""
        return self.client.api.describe_version(self.model_name, self.number, at_position=self.position)

    @property
    def metadata(self) -> dict[str, Any]:
        """The current value of every metadata key logged on this version."""
        return self.describe().metadata

    @property
    def metrics(self) -> dict[str, float]:
        """The current numeric metadata values (accuracy, loss...)."""
        return self.describe().metrics()

    @property
    def metadata_history(self) -> list[MetadataValue]:
        """Every value ever logged on this version, oldest first (a metric logged again appears each time)."""
        return list(self.describe().metadata_history)

    @property
    def tags(self) -> tuple[str, ...]:
        """The version's tags."""
        return self.view.tags

    @property
    def description(self) -> str | None:
        """The version's description."""
        return self.view.description

    @property
    def aliases(self) -> tuple[str, ...]:
        """The aliases pointing at this version."""
        return self.view.aliases

    def log_metadata(self, values: Mapping[str, Any]) -> None:
        """Log metadata on this version: numbers, texts, booleans and nested lists / objects, e.g.
        ``{"accuracy": 0.93, "params": {"depth": 3}}``; logging a key again keeps its earlier values."""
        self.client.api.log_metadata(self.model_name, self.number, values)

    def add_tags(self, *tags: str) -> None:
        """Add tags to this version (tags it has already are left as they are)."""
        self.client.api.update_version(self.model_name, self.number, add_tags=tags)

    def remove_tags(self, *tags: str) -> None:
        """Remove tags from this version (tags it does not have are ignored)."""
        self.client.api.update_version(self.model_name, self.number, remove_tags=tags)
