"""What the log says about stored artifact versions: the only source loads and checks trust.

A read-model row (``view_artifacts``) is a convenience copy and can be edited by anyone with
write access to the database; the ``ArtifactVersionStored`` event in the artifact's stream is
hash-chained. Every load takes the location, hash and materializer from that event, and refuses
(one line naming the artifact) when the row it started from disagrees with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelog.projections.views import ArtifactView
from modelog.registry.catalog import CURRENT_SCHEMA, upcast
from modelog.registry.errors import ArtifactIntegrityError
from modelog.registry.store import EventStore, StoredEvent
from modelog.registry.validation import name_key

ARTIFACT_STORED = "ArtifactVersionStored"
#: The fields a load depends on, compared between the read model and the log.
CHECKED_FIELDS = ("name", "version", "uri", "content_hash", "materializer", "data_type")


@dataclass(frozen=True)
class LoggedArtifact:
    """An artifact version as its ``ArtifactVersionStored`` event recorded it."""

    artifact_id: str
    name: str
    version: int
    uri: str
    content_hash: str
    materializer: str
    data_type: str
    position: int

    @property
    def label(self) -> str:
        """How messages name it: ``'name' vN``."""
        return f"{self.name!r} v{self.version}"


def _logged(event: StoredEvent) -> LoggedArtifact:
    data: dict[str, Any] = event.data
    if event.schema_version != CURRENT_SCHEMA.get(event.event_type):
        data = upcast(event.event_type, event.schema_version, data)
    return LoggedArtifact(str(data["artifact_id"]), str(data["name"]), int(data["version"]), str(data["uri"]),
                          str(data["content_hash"]), str(data["materializer"]), str(data["data_type"]),
                          event.position)


def logged_artifacts(store: EventStore, to_position: int | None = None) -> Iterator[LoggedArtifact]:
    """Every artifact version the log records, in log order."""
    for event in store.read_all(to_position=to_position, stream_prefix="artifact-"):
        if event.event_type == ARTIFACT_STORED:
            yield _logged(event)


def find_logged(store: EventStore, artifact_id: str, name: str, version: int) -> LoggedArtifact | None:
    """The logged artifact version ``artifact_id`` of the artifact called ``name``, or None.

    Looks at stream version ``version`` first (the usual place), then the whole stream.
    """
    stream = f"artifact-{name_key(name)}"
    for after in (max(version - 1, 0), 0):
        for event in store.read_stream(stream, after_version=after):
            if event.event_type == ARTIFACT_STORED and event.data.get("artifact_id") == artifact_id:
                return _logged(event)
    return None


def differences(view: ArtifactView, logged: LoggedArtifact) -> list[str]:
    """The fields a load depends on where the read-model row says something else than the log."""
    return [name for name in CHECKED_FIELDS if getattr(view, name) != getattr(logged, name)]


def checked_against_log(store: EventStore, view: ArtifactView) -> LoggedArtifact:
    """The log's record of the artifact version ``view`` shows; ArtifactIntegrityError unless they agree."""
    logged = find_logged(store, view.artifact_id, view.name, view.version)
    if logged is None:
        raise ArtifactIntegrityError(
            f"artifact {view.name!r} v{view.version} ({view.artifact_id}) is not recorded in the log as the read "
            "model shows it; refusing to load it (run 'modelog projections verify')")
    changed = differences(view, logged)
    if changed:
        raise ArtifactIntegrityError(
            f"artifact {logged.label} ({view.artifact_id}): the read model's {', '.join(changed)} differ from the "
            "log; refusing to load it (run 'modelog projections verify')")
    return logged
