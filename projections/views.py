"""Plain, immutable view objects the queries return (with stable JSON shapes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ModelView:
    """A model as the read side sees it."""

    id: str
    name: str
    license: str | None
    description: str | None
    audience: str | None
    use_cases: str | None
    limitations: str | None
    trade_offs: str | None
    ethics: str | None
    tags: tuple[str, ...]
    latest_version: int | None
    version_count: int
    created_at: str
    updated_at: str
    created_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {**asdict(self), "tags": list(self.tags)}


@dataclass(frozen=True)
class VersionView:
    """A model version with its link counts."""

    model_id: str
    model_name: str
    number: int
    name: str
    description: str | None
    tags: tuple[str, ...]
    stage: str
    aliases: tuple[str, ...]
    data_count: int
    model_count: int
    deployment_count: int
    run_count: int
    created_at: str
    updated_at: str
    created_by: str | None
    created_run_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {**asdict(self), "tags": list(self.tags), "aliases": list(self.aliases)}


@dataclass(frozen=True)
class LinkView:
    """An artifact linked to a model version."""

    pipeline: str
    step: str
    name: str
    kind: str
    link_version: int
    artifact_id: str
    artifact_name: str
    artifact_version: int
    content_hash: str
    run_id: str | None
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class RunView:
    """A pipeline run (as linked to a version, or on its own)."""

    run_id: str
    pipeline: str
    status: str
    started_at: str | None
    finished_at: str | None
    steps_completed: int
    error: str | None
    linked_at: str | None = None
    model_name: str | None = None
    version_number: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class StepView:
    """A completed step of a run: whether it was cached and the artifact versions it output.

    Each output is {"name", "artifact_id", "artifact_name", "artifact_version", "content_hash"}.
    """

    run_id: str
    step: str
    cached: bool
    cache_key: str | None
    duration_ms: float
    completed_at: str
    outputs: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return {**asdict(self), "outputs": [dict(o) for o in self.outputs]}


@dataclass(frozen=True)
class ArtifactView:
    """A stored artifact version."""

    artifact_id: str
    name: str
    version: int
    uri: str
    content_hash: str
    data_type: str
    materializer: str
    run_id: str | None
    step: str | None
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON shape."""
        return asdict(self)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the total count."""

    items: list[T]
    total: int
    page: int
    size: int
