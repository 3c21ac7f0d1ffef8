"""Storing step outputs: materialise, write to the artifact store, record the step, load back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelog.application.requests import OutputSpec
from modelog.registry.artifact_store import content_hash
from modelog.sdk.config import ArtifactConfig
from modelog.sdk.errors import ArtifactIntegrityError
from modelog.sdk.materializers import deserialize, serialize
from modelog.sdk.steps import OutputDecl

if TYPE_CHECKING:
    from modelog.sdk.client import Client


@dataclass
class StoredOutput:
    """One step output as stored: its artifact version, where the bytes are, and the loaded value."""

    name: str
    artifact_id: str
    artifact_name: str
    artifact_version: int
    content_hash: str
    uri: str
    materializer: str
    data_type: str
    config: ArtifactConfig = field(repr=False)
    value: Any = field(default=None, repr=False)
    cached: bool = False

    def spec(self, *, reuse: bool) -> OutputSpec:
        """The core's output spec for this output (``reuse``: point at the existing artifact version)."""
        return OutputSpec(
            name=self.name, uri=self.uri, content_hash=self.content_hash, data_type=self.data_type,
            materializer=self.materializer, artifact_name=self.artifact_name, kind=self.config.kind,
            overwrite=self.config.overwrite, artifact_id=self.artifact_id if reuse else None,
            artifact_version=self.artifact_version if reuse else None,
        )


def load_value(client: Client, output: StoredOutput) -> Any:
    """The deserialised value of a stored output, loaded as the log records it.

    Location, hash and materializer come from the log (through ``read_artifact``), never from the
    caller's copy; a log entry that names other content than this output was written as is refused.
    """
    artifact, data = client.api.read_artifact(output.artifact_id)
    if artifact.content_hash != output.content_hash:
        raise ArtifactIntegrityError(
            f"artifact {artifact.name!r} v{artifact.version}: the log records sha256 {artifact.content_hash}, "
            f"not the {output.content_hash} this step stored; refusing to load it")
    output.uri, output.materializer, output.data_type = artifact.uri, artifact.materializer, artifact.data_type
    return deserialize(data, artifact.materializer)


def _stage(client: Client, decl: OutputDecl, value: Any) -> tuple[StoredOutput, bytes]:
    serialized = serialize(value)
    blob = client.api.store_blob(serialized.data)
    output = StoredOutput(name=decl.name, artifact_id="", artifact_name=decl.config.name or decl.name,
                          artifact_version=0, content_hash=blob.content_hash, uri=blob.uri,
                          materializer=serialized.materializer, data_type=serialized.data_type, config=decl.config)
    return output, serialized.data


def _as_recorded(output: StoredOutput, data: bytes, logged_hash: str) -> Any:
    """The value the next step receives: these very bytes, once the log has recorded their hash.

    They never left this process, and the hash the log holds for the new artifact version is
    checked against them, so the value is exactly what a later load from the store returns.
    """
    if content_hash(data) != logged_hash:
        raise ArtifactIntegrityError(
            f"artifact {output.artifact_name!r} v{output.artifact_version}: the log records sha256 {logged_hash}, "
            "not the content this step stored; refusing to load it")
    return deserialize(data, output.materializer)


def store_outputs(client: Client, run_id: str, step: str, pairs: list[tuple[OutputDecl, Any]], cache_key: str,
                  duration_ms: float) -> list[StoredOutput]:
    """Write each output to the store, record the completed step, and hand back the values as recorded."""
    staged = [_stage(client, decl, value) for decl, value in pairs]
    outputs = [output for output, _ in staged]
    result = client.api.complete_step(run_id, step, [o.spec(reuse=False) for o in outputs], cached=False,
                                      cache_key=cache_key, duration_ms=duration_ms)
    for (output, data), recorded in zip(staged, result.outputs, strict=True):
        output.artifact_id, output.artifact_version = recorded.artifact_id, recorded.artifact_version
        output.artifact_name = recorded.artifact_name
        output.value = _as_recorded(output, data, recorded.content_hash)
    return outputs
