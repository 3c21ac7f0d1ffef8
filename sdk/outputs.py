"""Storing step outputs: materialise, hand the bytes to the step's record (stored first), load back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelog.application.requests import OutputBytes, OutputSpec
from modelog.registry.artifact_store import content_hash, uri_for
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


def _stage(decl: OutputDecl, value: Any) -> tuple[StoredOutput, OutputBytes]:
    serialized = serialize(value)
    digest = content_hash(serialized.data)
    output = StoredOutput(name=decl.name, artifact_id="", artifact_name=decl.config.name or decl.name,
                          artifact_version=0, content_hash=digest, uri=uri_for(digest),
                          materializer=serialized.materializer, data_type=serialized.data_type, config=decl.config)
    carried = OutputBytes(name=output.name, data=serialized.data, content_hash=digest, data_type=output.data_type,
                          materializer=output.materializer, artifact_name=output.artifact_name,
                          kind=decl.config.kind, overwrite=decl.config.overwrite)
    return output, carried


def _as_recorded(output: StoredOutput, data: bytes, logged_hash: str) -> Any:
    """The value the next step receives: these very bytes, once the log has recorded their hash.

    They never left this process, and ``output.content_hash`` was computed from them here: the hash the
    log holds for the new artifact version is checked against it, so the value is exactly what a later
    load from the store returns (which hashes the bytes it reads again).
    """
    if output.content_hash != logged_hash:
        raise ArtifactIntegrityError(
            f"artifact {output.artifact_name!r} v{output.artifact_version}: the log records sha256 {logged_hash}, "
            "not the content this step stored; refusing to load it")
    return deserialize(data, output.materializer)


def store_outputs(client: Client, run_id: str, step: str, pairs: list[tuple[OutputDecl, Any]], cache_key: str,
                  duration_ms: float) -> list[StoredOutput]:
    """Record the completed step with its outputs' bytes (the registry stores them first: through a server, small
    ones travel in the step's one request), and hand back the values as recorded."""
    staged = [_stage(decl, value) for decl, value in pairs]
    result = client.api.complete_step(run_id, step, [carried for _, carried in staged], cached=False,
                                      cache_key=cache_key, duration_ms=duration_ms)
    outputs = [output for output, _ in staged]
    for (output, carried), recorded in zip(staged, result.outputs, strict=True):
        output.artifact_id, output.artifact_version = recorded.artifact_id, recorded.artifact_version
        output.artifact_name = recorded.artifact_name
        output.value = _as_recorded(output, carried.data, recorded.content_hash)
    return outputs
